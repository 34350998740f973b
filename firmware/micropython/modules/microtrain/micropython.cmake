# _microtrain for CMake-based MicroPython ports (rp2, esp32); micropython.mk is
# the make-based twin. The C core is compiled in place from the repository,
# with no fused multiply-add (ESP32-S3's FPU has one) so results stay the host's.
set(MICROTRAIN_MOD_DIR ${CMAKE_CURRENT_LIST_DIR})
get_filename_component(MICROTRAIN_CORE_DIR ${MICROTRAIN_MOD_DIR}/../../../../core_cy/src ABSOLUTE)
file(GLOB MICROTRAIN_CORE_SRC ${MICROTRAIN_CORE_DIR}/*.c)
if(NOT MICROTRAIN_CORE_SRC)
    message(FATAL_ERROR "_microtrain: no C core found at ${MICROTRAIN_CORE_DIR}")
endif()
list(SORT MICROTRAIN_CORE_SRC)

add_library(usermod_microtrain INTERFACE)
target_sources(usermod_microtrain INTERFACE
    ${MICROTRAIN_MOD_DIR}/mod_microtrain.c
    ${MICROTRAIN_MOD_DIR}/bundle.c
    ${MICROTRAIN_MOD_DIR}/executor.c
    ${MICROTRAIN_MOD_DIR}/stream_storage.c
    ${MICROTRAIN_MOD_DIR}/train_sums.c
    ${MICROTRAIN_CORE_SRC}
)
target_include_directories(usermod_microtrain INTERFACE ${MICROTRAIN_MOD_DIR} ${MICROTRAIN_CORE_DIR})
# Source properties are per directory: this file is included from the port's
# directory, where these sources are compiled.
set_source_files_properties(${MICROTRAIN_CORE_SRC} ${MICROTRAIN_MOD_DIR}/train_sums.c
    ${MICROTRAIN_MOD_DIR}/executor.c PROPERTIES COMPILE_OPTIONS "-ffp-contract=off;-fno-math-errno")
target_link_libraries(usermod INTERFACE usermod_microtrain)
