# shmring_warnings(<target>): the project's warning set, applied to our own targets only.
function(shmring_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
    -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
  if(SHMRING_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
