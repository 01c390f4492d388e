# Fails when a function of include/swiftamqp.h has no documentation comment.
#
#   cmake -DHEADER=include/swiftamqp.h -P check_header_docs.cmake
#
# A declaration is documented when the nearest non-blank line above it closes a doc comment ("/**"
# ... "*/"; a section banner "/* --- */" does not count), or
# when it is the `_async` form declared right after its documented blocking form (the header's
# "Blocking and non-blocking forms" rule then describes it).
if(NOT HEADER)
  message(FATAL_ERROR "usage: cmake -DHEADER=... -P check_header_docs.cmake")
endif()
file(STRINGS "${HEADER}" lines)
set(previous "")
set(previous_decl "")
set(undocumented)
set(count 0)
set(doc_open FALSE)
set(last_comment_is_doc FALSE)
foreach(line IN LISTS lines)
  if(line MATCHES "^(const[ \t]+)?[a-z_0-9]+[ \t]*\\*?[ \t]*(swamqp_[a-z_0-9]+)\\(")
    set(name "${CMAKE_MATCH_2}")
    math(EXPR count "${count} + 1")
    if(previous MATCHES "\\*/[ \t]*$" AND last_comment_is_doc)
      # documented
    elseif(previous MATCHES "\\);[ \t]*$" AND name STREQUAL "${previous_decl}_async")
      # the _async sibling of the declaration just above
    else()
      list(APPEND undocumented "${name}")
    endif()
    set(previous_decl "${name}")
  endif()
  string(STRIP "${line}" stripped)
  if(stripped MATCHES "^/\\*\\*")
    set(doc_open TRUE)
  elseif(stripped MATCHES "^/\\*")
    set(doc_open FALSE)
  endif()
  if(stripped MATCHES "\\*/$")
    set(last_comment_is_doc ${doc_open})
  endif()
  if(NOT stripped STREQUAL "")
    set(previous "${stripped}")
  endif()
endforeach()
if(count LESS 10)
  message(FATAL_ERROR "found only ${count} declarations in ${HEADER}: the pattern is broken")
endif()
if(undocumented)
  string(REPLACE ";" "\n  " text "${undocumented}")
  message(FATAL_ERROR "functions of ${HEADER} without a documentation comment:\n  ${text}")
endif()
message(STATUS "all ${count} functions of ${HEADER} are documented")
