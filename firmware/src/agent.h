/* The device agent of the firmware: board/agent.py's contract (docs/device.md)
 * in C. One poll loop, no threads, no heap. */
#ifndef AGENT_H
#define AGENT_H

#include <stdint.h>

#define AGENT_NAME_M4F "microtrain-qemu-m4f"
#define AGENT_NAME_M3 "microtrain-qemu-m3"

void agent_boot(uint16_t first_seq);
void agent_step(void);   /* poll the link once; train one chunk if a run is active */

#endif
