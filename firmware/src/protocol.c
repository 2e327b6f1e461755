#include "protocol.h"

#include "counter.h"
#include "uart.h"

static uint32_t errors;

uint32_t crc32_update(uint32_t crc, const uint8_t *data, uint32_t length) {
    /* Nibble table: 64 bytes of flash instead of 1 KB, fast enough for a serial line. */
    static const uint32_t table[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
        0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
        0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
    };
    crc = ~crc;
    for (uint32_t i = 0; i < length; ++i) {
        crc ^= data[i];
        crc = (crc >> 4) ^ table[crc & 0xFu];
        crc = (crc >> 4) ^ table[crc & 0xFu];
    }
    return ~crc;
}

uint8_t crc8(const uint8_t *data, uint32_t length) {
    uint8_t crc = 0;
    for (uint32_t i = 0; i < length; ++i) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; ++bit) {
            crc = (uint8_t)((crc & 0x80u) ? ((unsigned)crc << 1) ^ 0x07u : (unsigned)crc << 1);
        }
    }
    return crc;
}

uint32_t frame_errors(void) {
    return errors;
}

/* The next byte, or -1 after `gap_ticks` without one. */
static int read_byte(uint64_t gap_ticks) {
    uint64_t start = counter_now();
    for (;;) {
        int c = uart_getc();
        if (c >= 0) {
            return c;
        }
        if (counter_now() - start > gap_ticks) {
            return -1;
        }
    }
}

static int wait_byte(void) {
    for (;;) {
        int c = uart_getc();
        if (c >= 0) {
            return c;
        }
        uart_idle();
    }
}

static int read_exact(uint8_t *dst, uint32_t length, uint64_t gap_ticks) {
    for (uint32_t i = 0; i < length; ++i) {
        int c = read_byte(gap_ticks);
        if (c < 0) {
            return -1;
        }
        dst[i] = (uint8_t)c;
    }
    return 0;
}

int frame_receive(frame_header_t *header, uint8_t *payload, uint16_t capacity,
                  uint64_t gap_ticks) {
    for (;;) {
        if (wait_byte() != FRAME_MAGIC0) {
            continue;
        }
        int c = read_byte(gap_ticks);
        while (c == FRAME_MAGIC0) {
            c = read_byte(gap_ticks);
        }
        if (c != FRAME_MAGIC1) {
            continue;
        }
        uint8_t head[5];
        if (read_exact(head, sizeof head, gap_ticks) != 0 || crc8(head, 4) != head[4]) {
            errors++;
            continue; /* nothing in a bad header can be trusted: resynchronise on magic */
        }
        header->type = head[0];
        header->seq = head[1];
        header->length = (uint16_t)(head[2] | (head[3] << 8));
        if (header->length > capacity) {
            errors++;
            return RECEIVE_TOO_LONG;
        }
        uint8_t trailer[4];
        if (read_exact(payload, header->length, gap_ticks) != 0 ||
            read_exact(trailer, sizeof trailer, gap_ticks) != 0) {
            errors++;
            continue;
        }
        uint32_t crc = crc32_update(0, head, 4);
        crc = crc32_update(crc, payload, header->length);
        uint32_t sent = trailer[0] | (trailer[1] << 8) | (trailer[2] << 16) |
                        ((uint32_t)trailer[3] << 24);
        if (crc != sent) {
            errors++;
            return RECEIVE_BAD_CRC;
        }
        return RECEIVE_OK;
    }
}

static void send_bytes(const uint8_t *data, uint32_t length) {
    for (uint32_t i = 0; i < length; ++i) {
        uart_putc(data[i]);
    }
}

void frame_send(uint8_t type, uint8_t seq, const void *a, uint16_t a_length, const void *b,
                uint16_t b_length) {
    uint16_t length = (uint16_t)(a_length + b_length);
    uint8_t head[7] = {FRAME_MAGIC0, FRAME_MAGIC1, type, seq, (uint8_t)length,
                       (uint8_t)(length >> 8), 0};
    head[6] = crc8(head + 2, 4);
    uint32_t crc = crc32_update(0, head + 2, 4);
    crc = crc32_update(crc, (const uint8_t *)a, a_length);
    crc = crc32_update(crc, (const uint8_t *)b, b_length);
    uint8_t trailer[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16),
                          (uint8_t)(crc >> 24)};
    send_bytes(head, sizeof head);
    send_bytes((const uint8_t *)a, a_length);
    send_bytes((const uint8_t *)b, b_length);
    send_bytes(trailer, sizeof trailer);
}
