// C API over DCMTK's networking (dcmnet) and derived-object writers (dcmseg, dcmsr): a Storage SCP and SCU,
// a binary Segmentation writer and a Comprehensive SR writer. No C++ exception crosses it; every failure is a
// status code plus a message.
#ifndef MGMT_CDICOM_EXCHANGE_H
#define MGMT_CDICOM_EXCHANGE_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

enum { MGMT_EXCHANGE_MESSAGE_CAPACITY = 512 };

typedef enum {
    MGMT_EXCHANGE_OK = 0,
    MGMT_EXCHANGE_INVALID_ARGUMENT = 1,
    MGMT_EXCHANGE_NETWORK = 2,      // cannot listen, connect, or the association broke
    MGMT_EXCHANGE_REFUSED = 3,      // the peer rejected the association, declined a context or failed a store
    MGMT_EXCHANGE_IO = 4,           // reading or writing a file
    MGMT_EXCHANGE_ENCODE = 5,       // DCMTK refused to build the object
    MGMT_EXCHANGE_INTERNAL = 6,     // a C++ exception or allocation failure inside DCMTK
} mgmt_exchange_status;

typedef struct {
    mgmt_exchange_status status;
    char message[MGMT_EXCHANGE_MESSAGE_CAPACITY];
} mgmt_exchange_error;

// ---- Storage SCP ----

/// Called on the association's thread once an instance is durably stored, before its success status is sent.
/// `path` is the final file; UIDs are those of the stored dataset.
typedef void (*mgmt_scp_stored_callback)(void *context, const char *study_uid, const char *series_uid,
                                         const char *sop_instance_uid, const char *path, uint64_t bytes);

typedef struct {
    const char *ae_title;                       // our AE title (1-16 characters)
    const char *bind_address;                   // IPv4 address to listen on (0.0.0.0: every interface)
    uint16_t port;
    const char *incoming_root;                  // an existing directory
    const char *const *allowed_calling_ae_titles;  // empty list: any calling AE title
    size_t allowed_calling_ae_title_count;
    const char *const *allowed_hosts;           // peer IP addresses; empty list: any host
    size_t allowed_host_count;
    uint32_t max_associations;                  // concurrent; more are rejected as transient
    uint32_t idle_timeout_seconds;              // an association silent this long is aborted
    mgmt_scp_stored_callback on_stored;         // may be NULL
    void *on_stored_context;
} mgmt_scp_config;

typedef struct {
    uint64_t associations_accepted;
    uint64_t associations_rejected;   // calling AE or host not allowed, or too many at once
    uint64_t contexts_declined;       // presentation contexts refused at negotiation (SOP class or syntax)
    uint64_t echoes;
    uint64_t instances_stored;
    uint64_t bytes_stored;            // file bytes written
    uint64_t stores_failed;           // C-STORE answered with a failure status
    uint32_t associations_active;
} mgmt_scp_counters;

typedef struct mgmt_scp mgmt_scp;

/// Listens on bind_address:port and serves associations on their own threads until mgmt_scp_stop.
mgmt_scp *mgmt_scp_start(const mgmt_scp_config *config, mgmt_exchange_error *error);
/// Stops accepting, waits for the running associations to end (they end on release, abort or idle timeout),
/// frees the listener.
void mgmt_scp_stop(mgmt_scp *scp);
void mgmt_scp_get_counters(const mgmt_scp *scp, mgmt_scp_counters *counters);

/// Number of transfer syntaxes the SCP accepts for storage (those DCMTK can decode here) and their UIDs.
size_t mgmt_scp_storage_transfer_syntax_count(void);
const char *mgmt_scp_storage_transfer_syntax(size_t index);

// ---- Storage SCU ----

typedef struct {
    const char *calling_ae_title;
    const char *called_ae_title;
    const char *host;
    uint16_t port;
    uint32_t timeout_seconds;          // connect and each response
} mgmt_scu_config;

/// Sends every file in one association (C-STORE each, in order). Succeeds only if every store returned success
/// or a warning. On failure `error` names the file and the reason.
mgmt_exchange_status mgmt_scu_send(const mgmt_scu_config *config, const char *const *paths, size_t count,
                                   mgmt_exchange_error *error);
/// C-ECHO: whether the peer answers.
mgmt_exchange_status mgmt_scu_echo(const mgmt_scu_config *config, mgmt_exchange_error *error);

// ---- Derived objects ----

/// Patient and study attributes a derived object copies from its source. NULL or "" writes the attribute
/// empty (all are type 2 except the Study Instance UID).
typedef struct {
    const char *patient_name, *patient_id, *patient_birth_date, *patient_sex;
    const char *study_instance_uid, *study_date, *study_time, *study_id, *accession_number;
    const char *referring_physician_name;
} mgmt_study_attributes;

/// One source slice of a segmentation.
typedef struct {
    const char *sop_class_uid;
    const char *sop_instance_uid;
    double image_position_patient[3];
} mgmt_seg_source_slice;

typedef struct {
    mgmt_study_attributes study;
    const char *source_series_instance_uid;
    const char *frame_of_reference_uid;          // of the source series (required non-empty)
    double image_orientation_patient[6];
    double pixel_spacing[2];                     // row, column spacing in mm
    double slice_thickness;                      // mm; 0 = unknown
    uint16_t rows, columns;
    const mgmt_seg_source_slice *slices;
    size_t slice_count;
    /// slice_count × 2 masks of rows × columns bytes (0 = outside): slice-major, WT then ET per slice.
    const uint8_t *masks;
    const char *series_instance_uid;             // the new series
    const char *sop_instance_uid;
    int32_t series_number;
    const char *series_description;
    const char *algorithm_name;
    const char *algorithm_version;               // the weights' sha256 (64 hex characters fit LO)
    const char *manufacturer, *software_version;
} mgmt_seg_request;

/// Writes a binary Segmentation with segments 1 = whole tumour and 2 = enhancing tumour, one frame per
/// (segment, source slice with any pixel of that segment), to `path` (the caller makes it durable).
/// `frame_count` receives the number of frames written.
mgmt_exchange_status mgmt_seg_write(const mgmt_seg_request *request, const char *path, size_t *frame_count,
                                    mgmt_exchange_error *error);

typedef struct {
    const char *mri_type;
    const char *series_instance_uid;             // source series
    double probability;                          // ignored when chunk_count is 0
    int32_t chunk_count;
    const char *model_name;
    const char *weights_sha256;
    const char *segmentation_sop_instance_uid;   // NULL: no segmentation for this series
    const char *segmentation_series_instance_uid;
} mgmt_sr_series_result;

typedef struct {
    mgmt_study_attributes study;
    const char *series_instance_uid;
    const char *sop_instance_uid;
    int32_t series_number;
    double patient_probability;
    int32_t has_patient_probability;             // 0: no type produced chunks (reason in `no_result_reason`)
    const char *no_result_reason;
    const mgmt_sr_series_result *series;
    size_t series_count;
    const char *segmentation_model_name;
    const char *segmentation_weights_sha256;
    const char *manufacturer, *software_version;
} mgmt_sr_request;

/// Writes a Comprehensive SR (the template is documented in the Swift writer) to `path`.
mgmt_exchange_status mgmt_sr_write(const mgmt_sr_request *request, const char *path, mgmt_exchange_error *error);

#ifdef __cplusplus
}
#endif
#endif
