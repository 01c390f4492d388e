# Fails when a function declared in include/swiftamqp.h is not called in Tests/C/c_bad_arguments.c.
#
#   cmake -DHEADER=include/swiftamqp.h -DTEST_SOURCE=Tests/C/c_bad_arguments.c -P check_header_coverage.cmake
#
# A declaration is a line-start return type followed by `swamqp_name(`; a call is `swamqp_name(` in
# the test source outside of comments.
if(NOT HEADER OR NOT TEST_SOURCE)
  message(FATAL_ERROR "usage: cmake -DHEADER=... -DTEST_SOURCE=... -P check_header_coverage.cmake")
endif()
file(READ "${HEADER}" header)
file(READ "${TEST_SOURCE}" source)
# Drop comments from the test source so that a name mentioned only in a comment does not count.
string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" source "${source}")
string(REGEX REPLACE "//[^\n]*" "" source "${source}")

string(REGEX MATCHALL "\n(const[ \t]+)?[a-z_0-9]+[ \t]*\\*?[ \t]*swamqp_[a-z_0-9]+\\(" decls "${header}")
set(functions)
foreach(decl IN LISTS decls)
  string(REGEX MATCH "swamqp_[a-z_0-9]+" name "${decl}")
  list(APPEND functions "${name}")
endforeach()
list(REMOVE_DUPLICATES functions)
list(LENGTH functions total)
if(total LESS 10)
  message(FATAL_ERROR "found only ${total} functions in ${HEADER}: the declaration pattern is broken")
endif()

set(missing)
foreach(name IN LISTS functions)
  string(FIND "${source}" "${name}(" at)
  if(at EQUAL -1)
    list(APPEND missing "${name}")
  endif()
endforeach()
if(missing)
  list(LENGTH missing n)
  string(REPLACE ";" "\n  " missing_lines "${missing}")
  message(FATAL_ERROR "${n} of ${total} header functions are not exercised by ${TEST_SOURCE}:\n  ${missing_lines}")
endif()
message(STATUS "all ${total} functions of ${HEADER} are called in ${TEST_SOURCE}")
