#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/oflog/oflog.h"
#include <mutex>
#include "CDicom.h"

extern "C" void mgmt_dicom_register_codecs(void) {
    static std::once_flag once;
    std::call_once(once, [] {
        // Failures reach the caller as status codes; DCMTK's own warnings on stderr would only be noise.
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
    });
}
