# Writes OUT (a header defining SDRA_GIT_REV) with the git revision of SRC, "unknown" outside
# git or without git, or $SDRA_GIT_REV when set (a container build has no .git); rewritten only when the revision changed, so that a build without a new
# commit recompiles nothing. Run at every build by the sdra-git-rev target (CMakeLists.txt).
execute_process(COMMAND git -C "${SRC}" rev-parse --short=12 HEAD
  OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(DEFINED ENV{SDRA_GIT_REV} AND "$ENV{SDRA_GIT_REV}" MATCHES "^[0-9a-zA-Z.-]+$")
  set(rev "$ENV{SDRA_GIT_REV}")
elseif(NOT rc EQUAL 0 OR NOT rev MATCHES "^[0-9a-f]+$")
  set(rev unknown)
else()
  execute_process(COMMAND git -C "${SRC}" status --porcelain --untracked-files=no
    OUTPUT_VARIABLE dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(dirty)
    set(rev "${rev}-dirty")
  endif()
endif()
set(text "#define SDRA_GIT_REV \"${rev}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
