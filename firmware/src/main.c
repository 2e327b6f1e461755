/* Serves the generated model over the serial protocol: the host sends input tensors, the
 * device answers with the output tensor and the cycles the inference took. */
#include <stdint.h>
#include <string.h>

#include "cmsis_min.h"
#include "counter.h"
#include "fault.h"
#include "protocol.h"
#include "stack.h"
#include "tinynas_model.h"
#include "uart.h"

#ifndef CORE_CLOCK_HZ
#define CORE_CLOCK_HZ 25000000u
#endif
#ifndef BAUD_RATE
#define BAUD_RATE 115200u
#endif
#ifndef MODEL_CRC32
#define MODEL_CRC32 0u
#endif
/* A frame that stalls this long between two bytes is dropped (the host then retries). */
#define FRAME_GAP_MS 20u
#define INFO_BYTES 44u
#define MIN_PAYLOAD 64u
#define RX_CAPACITY \
    (TINYNAS_INPUT_SIZE > MIN_PAYLOAD ? TINYNAS_INPUT_SIZE : MIN_PAYLOAD)

static uint8_t rx_buffer[RX_CAPACITY] __attribute__((aligned(16)));
static int8_t output_buffer[TINYNAS_OUTPUT_SIZE] __attribute__((aligned(16)));
static uint32_t invokes;
static uint32_t naks;
static uint8_t current_seq;
static int counter_kind;

static uint8_t *put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v) {
    return put32(put32(p, (uint32_t)v), (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p) {
    return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void send_info(uint8_t type, uint8_t seq) {
    uint8_t info[INFO_BYTES];
    uint32_t flags = (counter_kind == COUNTER_DWT ? 1u : 0u);
#if defined(__ARM_FP)
    flags |= 2u;
#endif
    uint8_t *p = put32(info, PROTOCOL_VERSION | (flags << 16));
    p = put32(p, SCB_CPUID);
    p = put32(p, CORE_CLOCK_HZ);
    p = put32(p, TINYNAS_INPUT_SIZE);
    p = put32(p, TINYNAS_OUTPUT_SIZE);
    p = put32(p, RX_CAPACITY);
    p = put32(p, MODEL_CRC32);
    p = put32(p, stack_size());
    p = put32(p, FRAME_GAP_MS);
    p = put32(p, counter_overhead());
    p = put32(p, BAUD_RATE);
    frame_send(type, seq, info, (uint16_t)(p - info), 0, 0);
}

static void send_nak(uint8_t seq, uint8_t reason) {
    naks++;
    frame_send(FRAME_NAK, seq, &reason, 1, 0, 0);
}

static void invoke(uint8_t seq, uint16_t length) {
    if (length != TINYNAS_INPUT_SIZE) {
        send_nak(seq, NAK_BAD_LENGTH);
        return;
    }
    uint64_t start = counter_now();
    int status = tinynas_invoke((const int8_t *)rx_buffer, output_buffer);
    uint64_t ticks = counter_now() - start - counter_overhead();
    invokes++;
    uint8_t head[12];
    put64(put32(head, (uint32_t)status), ticks);
    frame_send(FRAME_INVOKE | FRAME_REPLY, seq, head, sizeof head, output_buffer,
               TINYNAS_OUTPUT_SIZE);
}

static void spin(uint8_t seq, uint16_t length) {
    if (length != 4) {
        send_nak(seq, NAK_BAD_LENGTH);
        return;
    }
    uint32_t iterations = get32(rx_buffer);
    uint32_t n = iterations;
    uint64_t start = counter_now();
    /* Exactly two instructions per iteration: the host's yardstick for ticks per instruction. */
    if (n != 0) {
        /* GCC brackets Thumb-1 inline assembly in divided syntax: ask for unified. */
        __asm volatile(".syntax unified\n1: subs %0, %0, #1\n bne 1b" : "+l"(n)::"cc");
    }
    uint64_t ticks = counter_now() - start - counter_overhead();
    uint8_t reply[12];
    put32(put64(reply, ticks), iterations);
    frame_send(FRAME_SPIN | FRAME_REPLY, seq, reply, sizeof reply, 0, 0);
}

static void stats(uint8_t seq) {
    uint8_t reply[20];
    uint8_t *p = put32(reply, stack_used());
    p = put32(p, stack_size());
    p = put32(p, invokes);
    p = put32(p, frame_errors());
    put32(p, naks);
    frame_send(FRAME_STATS | FRAME_REPLY, seq, reply, sizeof reply, 0, 0);
}

void fault_report(const uint32_t *frame, uint32_t kind) {
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    uint8_t reply[24];
    uint8_t *p = put32(reply, kind);
    p = put32(p, frame ? frame[6] : 0u);
    p = put32(p, frame ? frame[5] : 0u);
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__)
    p = put32(p, SCB_CFSR);
    p = put32(p, SCB_HFSR);
#else
    p = put32(p, 0u);
    p = put32(p, 0u);
#endif
    put32(p, ipsr);
    frame_send(FRAME_FAULT, current_seq, reply, sizeof reply, 0, 0);
    SCB_AIRCR = SCB_AIRCR_RESET;
    for (;;) {
    }
}

int main(void) {
    uart_init(CORE_CLOCK_HZ, BAUD_RATE);
    counter_kind = counter_init();
    const uint64_t gap_ticks = (uint64_t)CORE_CLOCK_HZ / 1000u * FRAME_GAP_MS;
    send_info(FRAME_BOOT, 0);
    for (;;) {
        frame_header_t header;
        int status = frame_receive(&header, rx_buffer, RX_CAPACITY, gap_ticks);
        if (status == RECEIVE_TOO_LONG) {
            send_nak(header.seq, NAK_TOO_LONG);
            continue;
        }
        if (status == RECEIVE_BAD_CRC) {
            send_nak(header.seq, NAK_CRC);
            continue;
        }
        current_seq = header.seq;
        switch (header.type) {
        case FRAME_PING:
            frame_send(FRAME_PING | FRAME_REPLY, header.seq, rx_buffer, header.length, 0, 0);
            break;
        case FRAME_INFO:
            send_info(FRAME_INFO | FRAME_REPLY, header.seq);
            break;
        case FRAME_INVOKE:
            invoke(header.seq, header.length);
            break;
        case FRAME_STATS:
            stats(header.seq);
            break;
        case FRAME_SPIN:
            spin(header.seq, header.length);
            break;
        default:
            send_nak(header.seq, NAK_UNKNOWN_TYPE);
            break;
        }
    }
}
