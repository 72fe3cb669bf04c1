// Helpers shared by the exchange shim's translation units (not part of the C API).
#ifndef MGMT_CDICOM_EXCHANGE_COMMON_H
#define MGMT_CDICOM_EXCHANGE_COMMON_H
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/ofstd/ofcond.h"
#include <cstdarg>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include "CDicomExchange.h"

namespace mgmt_exchange {

inline mgmt_exchange_status fail(mgmt_exchange_error *error, mgmt_exchange_status status, const char *format, ...) {
    if (error) {
        error->status = status;
        va_list args;
        va_start(args, format);
        std::vsnprintf(error->message, sizeof error->message, format, args);
        va_end(args);
    }
    return status;
}

inline void clear(mgmt_exchange_error *error) {
    if (error) {
        error->status = MGMT_EXCHANGE_OK;
        error->message[0] = '\0';
    }
}

inline const char *orEmpty(const char *value) { return value ? value : ""; }

/// Runs `body` and turns any C++ exception into a status, so none crosses the C API.
template <typename Body>
mgmt_exchange_status guarded(mgmt_exchange_error *error, const char *what, Body body) {
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return fail(error, MGMT_EXCHANGE_INTERNAL, "out of memory while %s", what);
    } catch (const std::exception &e) {
        return fail(error, MGMT_EXCHANGE_INTERNAL, "DCMTK failed while %s: %s", what, e.what());
    } catch (...) {
        return fail(error, MGMT_EXCHANGE_INTERNAL, "DCMTK failed while %s", what);
    }
}

inline bool nonEmpty(const char *value) { return value && *value; }
inline const char *nonEmptyOr(const char *value, const char *fallback) { return nonEmpty(value) ? value : fallback; }

/// A decimal string (DS) of at most 16 characters.
std::string decimal(double value);

/// Writes the patient and study attributes a derived object copies from its source: given values as they are,
/// missing ones empty (type 2), and the UTF-8 character set when any value needs it.
mgmt_exchange_status writeStudyAttributes(DcmItem &dataset, const mgmt_study_attributes &study,
                                          mgmt_exchange_error *error);

/// Flushes a written file to the disk.
bool syncFile(const char *path);
/// Flushes a directory (its entries: a rename or a new file in it) to the disk.
bool syncDirectory(const char *path);

}  // namespace mgmt_exchange
#endif
