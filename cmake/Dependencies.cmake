# Every dependency is a Debian 12 package (see scripts/install-deps.sh). Nothing is downloaded.
find_package(Boost 1.81.0 CONFIG REQUIRED COMPONENTS json url)
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(CURL REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
add_library(CLI11::CLI11 INTERFACE IMPORTED)
target_include_directories(CLI11::CLI11 INTERFACE ${CLI11_INCLUDE_DIR})
if(FLASHSALE_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(FLASHSALE_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()

# Asio and Beast are compiled once (src/runtime/asio_impl.cpp) instead of in every translation
# unit that includes them; this keeps 2-core CI builds fast. Must be global for ODR safety.
add_compile_definitions(BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED)
