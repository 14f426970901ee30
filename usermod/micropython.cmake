# Top-level list of user C modules, for CMake-based ports (esp32, rp2):
#   make USER_C_MODULES=/path/to/usermod/micropython.cmake
include(${CMAKE_CURRENT_LIST_DIR}/llm/micropython.cmake)
