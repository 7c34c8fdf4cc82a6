# lava_write_if_changed(FILE CONTENT): writes FILE only when its content
# differs, so an unchanged generated source costs no rebuild.
function(lava_write_if_changed file content)
  if(EXISTS "${file}")
    file(READ "${file}" old)
    if(old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE "${file}" "${content}")
endfunction()
