# CMake-based MicroPython ports (rp2, esp32): USER_C_MODULES=<this file>.
# Make-based ports (unix, qemu, stm32) take this directory instead.
include(${CMAKE_CURRENT_LIST_DIR}/microtrain/micropython.cmake)
