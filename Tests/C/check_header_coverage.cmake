# Fails when a function declared in include/swiftamqp.h is not called in one of the files of the
# c_bad_arguments test (Tests/C/c_bad_arguments*.c and .h), or a status of its swamqp_status enum is
# not named there. TEST_SOURCES is the list of those files (`;`-separated).
#
#   cmake -DHEADER=include/swiftamqp.h "-DTEST_SOURCES=Tests/C/c_bad_arguments.c;..." -P check_header_coverage.cmake
#
# A declaration is a line-start return type followed by `swamqp_name(`; a call is `swamqp_name(` in
# the test sources outside of comments.
if(NOT HEADER OR NOT TEST_SOURCES)
  message(FATAL_ERROR "usage: cmake -DHEADER=... -DTEST_SOURCES=file;... -P check_header_coverage.cmake")
endif()
file(READ "${HEADER}" header)
set(source "")
foreach(test_source IN LISTS TEST_SOURCES)
  file(READ "${test_source}" one_source)
  string(APPEND source "${one_source}\n")
endforeach()
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

# Every status constant too (c_bad_arguments checks each one's swamqp_status_string).
string(REGEX MATCHALL "\n[ \t]*SWAMQP_(OK|ERR_[A-Z_0-9]+)[ \t]*=" status_decls "${header}")
set(statuses)
foreach(decl IN LISTS status_decls)
  string(REGEX MATCH "SWAMQP_(OK|ERR_[A-Z_0-9]+)" name "${decl}")
  list(APPEND statuses "${name}")
endforeach()
list(LENGTH statuses status_total)
if(status_total LESS 10)
  message(FATAL_ERROR "found only ${status_total} statuses in ${HEADER}: the enum pattern is broken")
endif()

set(missing)
foreach(name IN LISTS statuses)
  string(REGEX MATCH "[^A-Z_0-9]${name}[^A-Z_0-9]" found "${source}")
  if(NOT found)
    list(APPEND missing "${name}")
  endif()
endforeach()
foreach(name IN LISTS functions)
  string(FIND "${source}" "${name}(" at)
  if(at EQUAL -1)
    list(APPEND missing "${name}")
  endif()
endforeach()
if(missing)
  list(LENGTH missing n)
  string(REPLACE ";" "\n  " missing_lines "${missing}")
  message(FATAL_ERROR "${n} header functions or statuses are not exercised by ${TEST_SOURCES}:\n  ${missing_lines}")
endif()
message(STATUS "all ${total} functions and ${status_total} statuses of ${HEADER} are used in ${TEST_SOURCES}")
