/* Consistent Overhead Byte Stuffing, byte for byte as protocol/cobs.py. */
#ifndef COBS_H
#define COBS_H

#include <stdint.h>

uint32_t cobs_encode(const uint8_t *src, uint32_t n, uint8_t *dst);          /* -> encoded length */
int32_t cobs_decode(const uint8_t *src, uint32_t n, uint8_t *dst, uint32_t cap); /* -> length, -1 if malformed */

#endif
