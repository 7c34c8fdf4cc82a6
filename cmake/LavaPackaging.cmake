# Debian packages with CPack, from the same install rules as `cmake --install`
# (docs/adr/0012-packages.md). tools/package builds them:
#   lava-cpp-server: lava-server, lava-scheduler, lava-publisher
#   lava-cpp-worker: lava-worker, lava-run
# Depends are computed by dpkg-shlibdeps; the maintainer scripts and the
# conffiles are in packaging/deb/<component>/.
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "lava-cpp")
set(CPACK_PACKAGE_VENDOR "lava-cpp")
set(CPACK_PACKAGE_CONTACT "lava-cpp developers <lava-cpp@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server worker)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION "devel")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_COMPRESSION_TYPE "xz")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/lava-cpp/lava-cpp")

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME "lava-cpp-server")
set(CPACK_COMPONENT_SERVER_DESCRIPTION
    "LAVA server in C++: web UI, REST and XML-RPC APIs, scheduler, publisher\n\
lava-cpp's lava-server, lava-scheduler, lava-publisher and lava-coordinator,\n\
speaking LAVA 2023.01's protocols, job format and device dictionaries, on\n\
PostgreSQL.")
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser, init-system-helpers")
set(CPACK_DEBIAN_SERVER_PACKAGE_RECOMMENDS "postgresql")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONFLICTS "lava-server, lava-coordinator")
set(CPACK_DEBIAN_SERVER_PACKAGE_REPLACES "lava-server, lava-coordinator")

set(CPACK_DEBIAN_WORKER_PACKAGE_NAME "lava-cpp-worker")
set(CPACK_COMPONENT_WORKER_DESCRIPTION
    "LAVA worker in C++: lava-worker and lava-run\n\
lava-cpp's lava-worker and lava-run: pull jobs from a LAVA 2023.01 or\n\
lava-cpp server and drive the devices under test.")
set(CPACK_DEBIAN_WORKER_PACKAGE_DEPENDS "init-system-helpers")
set(CPACK_DEBIAN_WORKER_PACKAGE_RECOMMENDS "qemu-system-x86, qemu-system-arm, tftpd-hpa, u-boot-tools, ser2net, telnet | telnet-client, xz-utils, zstd")
set(CPACK_DEBIAN_WORKER_PACKAGE_CONFLICTS "lava-dispatcher")
set(CPACK_DEBIAN_WORKER_PACKAGE_REPLACES "lava-dispatcher")

# conffiles: every file the component installs under /etc.
set(_lava_conffiles_server "${CMAKE_INSTALL_FULL_SYSCONFDIR}/lava-server/settings.yaml"
    "${CMAKE_INSTALL_FULL_SYSCONFDIR}/lava-server/scheduler.yaml"
    "${CMAKE_INSTALL_FULL_SYSCONFDIR}/lava-server/publisher.yaml"
    "${CMAKE_INSTALL_FULL_SYSCONFDIR}/lava-coordinator/lava-coordinator.conf"
    "${CMAKE_INSTALL_FULL_SYSCONFDIR}/lava-coordinator/lava-coordinator"
    "${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d/lava-cpp-server")
set(_lava_conffiles_worker "${CMAKE_INSTALL_FULL_SYSCONFDIR}/lava-dispatcher/lava-worker"
    "${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d/lava-cpp-worker")
foreach(component server worker)
  string(TOUPPER ${component} upper)
  set(control "${CMAKE_BINARY_DIR}/packaging/${component}")
  file(MAKE_DIRECTORY "${control}")
  list(JOIN _lava_conffiles_${component} "\n" lines)
  file(WRITE "${control}/conffiles" "${lines}\n")
  set(extra "${control}/conffiles")
  foreach(script postinst prerm postrm)
    configure_file("${PROJECT_SOURCE_DIR}/packaging/deb/${component}/${script}" "${control}/${script}"
                   @ONLY FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                          WORLD_READ WORLD_EXECUTE)
    list(APPEND extra "${control}/${script}")
  endforeach()
  set(CPACK_DEBIAN_${upper}_PACKAGE_CONTROL_EXTRA "${extra}")
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
