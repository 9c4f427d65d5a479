// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every
// stored record. Uses the SSE4.2 crc32 instruction when the CPU has it, and a
// table otherwise; both give identical results.
// Check value: Crc32c("123456789") == 0xE3069283.
#ifndef BROOK_JOURNAL_CRC32C_H_
#define BROOK_JOURNAL_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace brook::journal {

uint32_t Crc32c(const void* data, size_t n);

// The table implementation alone, whatever the CPU; for tests that check the
// two implementations agree.
uint32_t Crc32cPortable(const void* data, size_t n);

}  // namespace brook::journal

#endif  // BROOK_JOURNAL_CRC32C_H_
