/* Framed serial protocol (see ../PROTOCOL.md): every frame carries a header checksum and a
 * CRC-32, so a dropped or garbled byte is detected and the host retries. */
#ifndef TINYNAS_PROTOCOL_H
#define TINYNAS_PROTOCOL_H

#include <stdint.h>

#define PROTOCOL_VERSION 1u
#define FRAME_MAGIC0 0xA5u
#define FRAME_MAGIC1 0x5Au
#define FRAME_HEADER_BYTES 7u
#define FRAME_TRAILER_BYTES 4u

enum frame_type {
    FRAME_PING = 0x01,
    FRAME_INFO = 0x02,
    FRAME_INVOKE = 0x03,
    FRAME_STATS = 0x04,
    FRAME_SPIN = 0x05,
    FRAME_REPLY = 0x80, /* OR-ed into the request type */
    FRAME_FAULT = 0x7D,
    FRAME_BOOT = 0x7E,
    FRAME_NAK = 0x7F,
};

enum nak_reason {
    NAK_CRC = 1,
    NAK_TOO_LONG = 2,
    NAK_UNKNOWN_TYPE = 3,
    NAK_BAD_LENGTH = 4,
};

typedef struct {
    uint8_t type;
    uint8_t seq;
    uint16_t length;
} frame_header_t;

enum receive_status {
    RECEIVE_OK = 0,
    RECEIVE_BAD_CRC = -1,
    RECEIVE_TOO_LONG = -2,
};

uint32_t crc32_update(uint32_t crc, const uint8_t *data, uint32_t length);
uint8_t crc8(const uint8_t *data, uint32_t length);

/* Block until a frame with a valid header arrives; its payload goes to `payload`.
 * A frame that stalls for longer than `gap_ticks` between bytes is dropped silently. */
int frame_receive(frame_header_t *header, uint8_t *payload, uint16_t capacity,
                  uint64_t gap_ticks);

/* Send one frame whose payload is `a` followed by `b` (either may be empty). */
void frame_send(uint8_t type, uint8_t seq, const void *a, uint16_t a_length, const void *b,
                uint16_t b_length);

/* Frames dropped for a bad header, a stall or a bad CRC since reset. */
uint32_t frame_errors(void);

#endif
