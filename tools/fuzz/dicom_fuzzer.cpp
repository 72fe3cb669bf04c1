// libFuzzer target over CDicom: every input is written to a private file and put through what ingest does to a
// file (a deferred header scan, a full load, the header-level checks, decoding into a bounded buffer).
// Not part of the Swift build: tools/fuzz/build.sh compiles it with the CDicom sources under ASan.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>
#include "CDicom.h"

namespace {

std::string scratchPath() {
    const char *dir = std::getenv("TMPDIR");
    return std::string(dir ? dir : "/tmp") + "/mgmt-dicom-fuzz-" + std::to_string(getpid()) + ".dcm";
}

// Decoding allocates rows x columns x frames values; the shim caps that at 2^31, which would make ASan's
// allocator limit, not a bug, the finding. Inputs above this many values are only checked, not decoded.
constexpr size_t kMaximumDecodedValues = size_t(1) << 24;

void exercise(const std::string &path, int deferred) {
    mgmt_dicom_error error;
    mgmt_dicom_file *file = mgmt_dicom_open(path.c_str(), deferred, &error);
    if (!file) return;
    const mgmt_dicom_header *header = mgmt_dicom_get_header(file);
    volatile double sink = header->rescale_slope + header->image_position_patient[0];
    (void)sink;
    if (mgmt_dicom_check_decodable(file, &error) == MGMT_DICOM_OK) {
        const size_t count = mgmt_dicom_value_count(file);
        if (count <= kMaximumDecodedValues) {
            std::vector<float> values(count);
            mgmt_dicom_read_rescaled(file, values.data(), values.size(), &error);
            std::vector<int32_t> stored(count);
            mgmt_dicom_read_stored(file, stored.data(), stored.size(), &error);
        }
    }
    mgmt_dicom_close(file);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const std::string path = scratchPath();
    FILE *out = std::fopen(path.c_str(), "wb");
    if (!out) std::abort();
    if (size) std::fwrite(data, 1, size, out);
    std::fclose(out);
    exercise(path, 1);
    exercise(path, 0);
    return 0;
}
