# `cmake --install` in LAVA 2023.01's places, in two components that are also
# the two Debian packages (cmake/LavaPackaging.cmake, docs/adr/0012):
#   server: lava-server, lava-scheduler, lava-publisher, lava-coordinator, their units, sample
#           settings, device-type templates, dispatcher-config and job output
#   worker: lava-worker, lava-run, its unit, /etc/lava-dispatcher/lava-worker
# The prefix defaults to /usr (LAVA's /usr/bin); /etc and /var follow
# GNUInstallDirs, which maps them to /etc and /var for the /usr prefix.
include(GNUInstallDirs)

set(LAVA_SYSTEMD_UNIT_DIR "/lib/systemd/system" CACHE PATH "Where the systemd units go")
set(LAVA_ETC "${CMAKE_INSTALL_FULL_SYSCONFDIR}")
set(LAVA_VAR "${CMAKE_INSTALL_FULL_LOCALSTATEDIR}")

install(TARGETS lava-server lava-scheduler lava-publisher lava-coordinator RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
install(TARGETS lava-worker lava-run RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT worker)

# Sample settings: each daemon prints its own, every key commented with its
# default (common/config/settings.hpp), so they cannot drift from the code.
set(samples)
foreach(pair "lava-server;settings" "lava-scheduler;scheduler" "lava-publisher;publisher")
  list(GET pair 0 program)
  list(GET pair 1 name)
  set(out "${CMAKE_BINARY_DIR}/etc/lava-server/${name}.yaml")
  add_custom_command(OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${CMAKE_BINARY_DIR}/etc/lava-server"
    COMMAND sh -c "\"$1\" --print-settings yaml > \"$2\"" sh $<TARGET_FILE:${program}> "${out}"
    DEPENDS ${program}
    COMMENT "Sample settings ${name}.yaml from ${program}"
    VERBATIM)
  list(APPEND samples "${out}")
endforeach()
add_custom_target(lava_sample_settings ALL DEPENDS ${samples})
install(FILES ${samples} DESTINATION "${LAVA_ETC}/lava-server" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
        COMPONENT server)
# LAVA's coordinator settings (JSON), as its lava-coordinator package ships them.
install(FILES "${PROJECT_SOURCE_DIR}/etc/lava-coordinator/lava-coordinator.conf"
              "${PROJECT_SOURCE_DIR}/etc/lava-coordinator/lava-coordinator"
        DESTINATION "${LAVA_ETC}/lava-coordinator" COMPONENT server)
install(FILES "${PROJECT_SOURCE_DIR}/etc/lava-dispatcher/lava-worker" DESTINATION "${LAVA_ETC}/lava-dispatcher"
        COMPONENT worker)

install(FILES "${PROJECT_SOURCE_DIR}/etc/logrotate.d/lava-cpp-server" DESTINATION "${LAVA_ETC}/logrotate.d"
        COMPONENT server)
install(FILES "${PROJECT_SOURCE_DIR}/etc/logrotate.d/lava-cpp-worker" DESTINATION "${LAVA_ETC}/logrotate.d"
        COMPONENT worker)
install(DIRECTORY DESTINATION "${LAVA_VAR}/log/lava-server" COMPONENT server)
install(DIRECTORY DESTINATION "${LAVA_VAR}/log/lava-dispatcher" COMPONENT worker)

# Device-type templates where LAVA keeps its own; a lab's dispatcher-config
# (LAVA's layout) overrides them from /etc/lava-server/dispatcher-config.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/etc/dispatcher-config/device-types/"
        DESTINATION "${CMAKE_INSTALL_FULL_DATADIR}/lava-server/device-types" COMPONENT server
        FILES_MATCHING PATTERN "*.jinja2")
foreach(dir devices device-types health-checks)
  install(DIRECTORY DESTINATION "${LAVA_ETC}/lava-server/dispatcher-config/${dir}" COMPONENT server)
endforeach()
install(DIRECTORY DESTINATION "${LAVA_ETC}/lava-server/dispatcher.d" COMPONENT server)
install(DIRECTORY DESTINATION "${LAVA_VAR}/lib/lava-server/default/media/job-output" COMPONENT server)
install(DIRECTORY DESTINATION "${LAVA_VAR}/lib/lava/dispatcher/worker" COMPONENT worker)

install(FILES "${PROJECT_SOURCE_DIR}/systemd/lava-server.service" "${PROJECT_SOURCE_DIR}/systemd/lava-scheduler.service"
              "${PROJECT_SOURCE_DIR}/systemd/lava-publisher.service" "${PROJECT_SOURCE_DIR}/systemd/lava-server-jobs-rm.service"
              "${PROJECT_SOURCE_DIR}/systemd/lava-server-jobs-rm.timer" "${PROJECT_SOURCE_DIR}/systemd/lava-coordinator.service"
        DESTINATION "${LAVA_SYSTEMD_UNIT_DIR}" COMPONENT server)
install(FILES "${PROJECT_SOURCE_DIR}/systemd/lava-worker.service" DESTINATION "${LAVA_SYSTEMD_UNIT_DIR}"
        COMPONENT worker)

install(DIRECTORY "${PROJECT_SOURCE_DIR}/docs/admin/" DESTINATION "${CMAKE_INSTALL_FULL_DATADIR}/doc/lava-cpp-server/admin"
        COMPONENT server FILES_MATCHING PATTERN "*.md")
