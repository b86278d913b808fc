add_library(flashsale_warnings INTERFACE)
target_compile_options(flashsale_warnings INTERFACE -Wall -Wextra -Wpedantic
  -Wnon-virtual-dtor -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(flashsale_warnings INTERFACE -Wshadow=local)
endif()
# GCC 12 at -O3 reports -Wrestrict false positives inside std::string (GCC bug 105329).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(flashsale_warnings INTERFACE -Wno-restrict)
endif()
if(FLASHSALE_WERROR)
  target_compile_options(flashsale_warnings INTERFACE -Werror)
endif()

# fs_add_library(name SOURCES ... DEPS ...): one small library per layer.
function(fs_add_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${A_DEPS} PRIVATE flashsale_warnings ${A_PRIVATE_DEPS})
endfunction()
