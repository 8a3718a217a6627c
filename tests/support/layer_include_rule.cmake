# The layer rule as the build enforces it (src/CMakeLists.txt): a layer's include tree holds only
# its own folder, and linking adds the trees of the layers below. So a header of a higher layer is
# not found, even a header-only one. Run by ctest: cmake -DCXX=... -DTREES=<build>/include -P this.
function(compile_with trees header expect)
  set(flags -std=c++20 -fsyntax-only -x c++)
  foreach(tree ${trees})
    list(APPEND flags -I${TREES}/${tree})
  endforeach()
  file(WRITE ${TREES}/layer_rule_probe.cpp "#include \"${header}\"\n")
  execute_process(COMMAND ${CXX} ${flags} ${TREES}/layer_rule_probe.cpp
                  RESULT_VARIABLE result ERROR_VARIABLE errors)
  if(expect STREQUAL "found" AND NOT result EQUAL 0)
    message(FATAL_ERROR "${header} should compile with the trees of ${trees}:\n${errors}")
  endif()
  if(expect STREQUAL "missing")
    if(result EQUAL 0 OR NOT errors MATCHES "No such file")
      message(FATAL_ERROR "${header} must not be reachable from the trees of ${trees}:\n${errors}")
    endif()
  endif()
endfunction()

# Control: what a layer may include compiles with its own and lower trees.
compile_with("sb_core;sb_common" "core/hub.hpp" found)
compile_with("sb_transport;sb_common" "transport/ws_handler.hpp" found)
# Upward includes are not found, header-only ones included.
compile_with("sb_core;sb_common" "session/client.hpp" missing)
compile_with("sb_core;sb_common" "transport/limits.hpp" missing)
compile_with("sb_transport;sb_common" "core/subscriber.hpp" missing)
compile_with("sb_session;sb_protocol;sb_auth;sb_core;sb_transport;sb_common" "api/stats.hpp" missing)
# The backend layer sits below session: it cannot reach the session's headers, session reaches its.
compile_with("sb_backend;sb_protocol;sb_core;sb_transport;sb_common" "session/client.hpp" missing)
compile_with("sb_backend;sb_protocol;sb_core;sb_transport;sb_common" "backend/proxy.hpp" found)
