// The Storage SCP: C-ECHO and C-STORE of MR images, each instance durably on disk before its success status.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dccodec.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/dul.h"
#include <atomic>
#include <chrono>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <memory>
#include <arpa/inet.h>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>
#include "CDicom.h"
#include "common.h"

using namespace mgmt_exchange;

namespace {

const long kMaxPDU = 65536;

/// Transfer syntaxes for storage: those DCMTK can decode here (what ingest reads, the SCP accepts).
const E_TransferSyntax kCandidateSyntaxes[] = {
    EXS_JPEGLSLossless, EXS_JPEGProcess14SV1, EXS_JPEGProcess14, EXS_RLELossless, EXS_JPEGLSLossy,
    EXS_JPEGProcess1, EXS_JPEGProcess2_4, EXS_JPEG2000LosslessOnly, EXS_JPEG2000, EXS_DeflatedLittleEndianExplicit,
    EXS_LittleEndianExplicit, EXS_BigEndianExplicit, EXS_LittleEndianImplicit,
};

const std::vector<const char *> &storageSyntaxes() {
    static const std::vector<const char *> syntaxes = [] {
        mgmt_dicom_register_codecs();
        std::vector<const char *> accepted;
        for (E_TransferSyntax xfer : kCandidateSyntaxes) {
            DcmXfer info(xfer);
            if (!info.isEncapsulated() || DcmCodecList::canChangeCoding(xfer, EXS_LittleEndianExplicit)) {
                accepted.push_back(info.getXferID());
            }
        }
        return accepted;
    }();
    return syntaxes;
}

const std::vector<const char *> &uncompressedSyntaxes() {
    static const std::vector<const char *> syntaxes = {UID_LittleEndianExplicitTransferSyntax,
                                                       UID_LittleEndianImplicitTransferSyntax};
    return syntaxes;
}

/// A UID usable as a path component under the incoming root: digits and dots, no "." or "..".
bool isSafeUID(const OFString &uid) {
    if (uid.empty() || uid.size() > 64 || uid == "." || uid == "..") return false;
    for (char c : uid) {
        if (!((c >= '0' && c <= '9') || c == '.')) return false;
    }
    return true;
}

/// mkdir that tolerates an existing directory; `created` tells whether this call made it.
bool makeDirectory(const std::string &path, bool &created) {
    created = ::mkdir(path.c_str(), 0755) == 0;
    return created || errno == EEXIST;
}

/// dcmnet's acceptor binds every interface; a socket handed to it through the process-wide
/// dcmExternalSocketHandle replaces its own. The listeners of one process take turns with that setting.
std::mutex externalSocketMutex;

/// Runs `body` with dcmExternalSocketHandle set to `socket`, then clears it.
template <typename Body>
auto withExternalSocket(int socket, Body body) {
    std::lock_guard<std::mutex> lock(externalSocketMutex);
    dcmExternalSocketHandle.set(socket);
    auto result = body();
    dcmExternalSocketHandle.set(-1);
    return result;
}

/// A listening IPv4 TCP socket on address:port, or -1 with `problem` said.
int openListener(const char *address, uint16_t port, std::string &problem) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_port = htons(port);
    if (::inet_pton(AF_INET, address, &local.sin_addr) != 1) {
        problem = "not an IPv4 address";
        return -1;
    }
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) {
        problem = std::strerror(errno);
        return -1;
    }
    const int reuse = 1;
    ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
    if (::bind(listener, reinterpret_cast<sockaddr *>(&local), sizeof local) != 0 || ::listen(listener, 64) != 0) {
        problem = std::strerror(errno);
        ::close(listener);
        return -1;
    }
    return listener;
}

}  // namespace

struct mgmt_scp {
    std::string aeTitle, root;
    std::vector<std::string> allowedCallingAETitles, allowedHosts;
    uint32_t maxAssociations = 16, idleTimeoutSeconds = 60;
    mgmt_scp_stored_callback onStored = nullptr;
    void *onStoredContext = nullptr;

    T_ASC_Network *network = nullptr;
    int listenSocket = -1;
    std::thread acceptor;
    std::atomic<bool> stopping{false};
    std::mutex mutex;
    std::condition_variable associationsEnded;
    uint32_t active = 0;
    std::atomic<uint64_t> tempCounter{0};

    std::atomic<uint64_t> accepted{0}, rejected{0}, declined{0}, echoes{0}, instances{0}, bytes{0}, failed{0};

    ~mgmt_scp() {
        if (listenSocket >= 0) ::close(listenSocket);
    }

    void acceptLoop();
    void serve(T_ASC_Association *assoc);
    bool negotiate(T_ASC_Association *assoc);
    void handleStore(T_ASC_Association *assoc, T_ASC_PresentationContextID presID, T_DIMSE_C_StoreRQ &request);
    Uint16 storeDurably(DcmFileFormat &file, const T_DIMSE_C_StoreRQ &request);
    bool isAllowed(T_ASC_Association *assoc) const;
    void reject(T_ASC_Association *assoc, T_ASC_RejectParametersResult result, T_ASC_RejectParametersSource source,
                T_ASC_RejectParametersReason reason);
};

namespace {

struct StoreContext {
    mgmt_scp *scp;
    DcmFileFormat *file;
};

void storeCallback(void *data, T_DIMSE_StoreProgress *progress, T_DIMSE_C_StoreRQ *request, char *,
                   DcmDataset **, T_DIMSE_C_StoreRSP *response, DcmDataset **) {
    if (progress->state != DIMSE_StoreEnd) return;
    StoreContext &context = *static_cast<StoreContext *>(data);
    // dcmnet has already set a failure status if the dataset did not arrive whole.
    if (response->DimseStatus != STATUS_Success) return;
    try {
        response->DimseStatus = context.scp->storeDurably(*context.file, *request);
    } catch (...) {
        response->DimseStatus = STATUS_STORE_Refused_OutOfResources;
    }
}

}  // namespace

bool mgmt_scp::isAllowed(T_ASC_Association *assoc) const {
    char calling[64] = {0}, called[64] = {0};
    ASC_getAPTitles(assoc->params, calling, sizeof calling, called, sizeof called, nullptr, 0);
    if (!allowedCallingAETitles.empty()) {
        bool found = false;
        for (const auto &title : allowedCallingAETitles) found = found || title == calling;
        if (!found) return false;
    }
    if (!allowedHosts.empty()) {
        // With dcmDisableGethostbyaddr the calling presentation address is the peer's IP address.
        const std::string host = assoc->params->DULparams.callingPresentationAddress;
        bool found = false;
        for (const auto &allowed : allowedHosts) found = found || allowed == host;
        if (!found) return false;
    }
    return true;
}

void mgmt_scp::reject(T_ASC_Association *assoc, T_ASC_RejectParametersResult result,
                      T_ASC_RejectParametersSource source, T_ASC_RejectParametersReason reason) {
    T_ASC_RejectParameters parameters = {result, source, reason};
    ASC_rejectAssociation(assoc, &parameters);
    ASC_dropSCPAssociation(assoc);
    ASC_destroyAssociation(&assoc);
    rejected++;
}

void mgmt_scp::acceptLoop() {
    while (!stopping.load()) {
        // Wakes every second to notice a stop.
        pollfd ready{listenSocket, POLLIN, 0};
        if (::poll(&ready, 1, 1000) <= 0) continue;
        const int connection = ::accept4(listenSocket, nullptr, nullptr, SOCK_CLOEXEC);
        if (connection < 0) {
            // Out of descriptors, say: the pending connection stays queued; do not spin on it.
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        // dcmnet leaves a connection open when the peer is already gone; such a one is closed here.
        sockaddr_storage peer;
        socklen_t peerLength = sizeof peer;
        if (::getpeername(connection, reinterpret_cast<sockaddr *>(&peer), &peerLength) != 0) {
            ::close(connection);
            continue;
        }
        T_ASC_Association *assoc = nullptr;
        OFCondition cond = withExternalSocket(connection, [&] {
            return ASC_receiveAssociation(network, &assoc, kMaxPDU, nullptr, nullptr, OFFalse, DUL_NOBLOCK, 1);
        });
        if (cond.bad()) {
            if (assoc) {
                ASC_dropSCPAssociation(assoc);
                ASC_destroyAssociation(&assoc);
            }
            continue;
        }
        if (!isAllowed(assoc)) {
            reject(assoc, ASC_RESULT_REJECTEDPERMANENT, ASC_SOURCE_SERVICEUSER, ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED);
            continue;
        }
        bool admitted = false;
        {
            std::lock_guard<std::mutex> lock(mutex);
            if (active < maxAssociations) {
                active++;
                admitted = true;
            }
        }
        if (admitted) {
            std::thread([this, assoc] { serve(assoc); }).detach();
            continue;
        }
        reject(assoc, ASC_RESULT_REJECTEDTRANSIENT, ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED,
               ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED);
    }
}

bool mgmt_scp::negotiate(T_ASC_Association *assoc) {
    const int proposed = ASC_countPresentationContexts(assoc->params);
    for (int i = 0; i < proposed; ++i) {
        T_ASC_PresentationContext context;
        if (ASC_getPresentationContext(assoc->params, i, &context).bad()) continue;
        const bool verification = std::strcmp(context.abstractSyntax, UID_VerificationSOPClass) == 0;
        const bool storage = std::strcmp(context.abstractSyntax, UID_MRImageStorage) == 0 ||
                             std::strcmp(context.abstractSyntax, UID_EnhancedMRImageStorage) == 0;
        // The sender's first acceptable choice, so an instance is stored in the form the sender holds it.
        const char *chosen = nullptr;
        for (int j = 0; j < context.transferSyntaxCount && !chosen && (verification || storage); ++j) {
            const char *syntax = context.proposedTransferSyntaxes[j];
            const auto &allowed = verification ? uncompressedSyntaxes() : storageSyntaxes();
            for (const char *candidate : allowed) {
                if (std::strcmp(candidate, syntax) == 0) chosen = candidate;
            }
        }
        if (chosen) {
            ASC_acceptPresentationContext(assoc->params, context.presentationContextID, chosen);
        } else {
            ASC_refusePresentationContext(assoc->params, context.presentationContextID,
                                          verification || storage ? ASC_P_TRANSFERSYNTAXESNOTSUPPORTED
                                                                  : ASC_P_ABSTRACTSYNTAXNOTSUPPORTED);
            declined++;
        }
    }
    return ASC_acknowledgeAssociation(assoc).good();
}

Uint16 mgmt_scp::storeDurably(DcmFileFormat &file, const T_DIMSE_C_StoreRQ &request) {
    DcmDataset &dataset = *file.getDataset();
    OFString sopClass, sopInstance, study, series;
    dataset.findAndGetOFString(DCM_SOPClassUID, sopClass);
    dataset.findAndGetOFString(DCM_SOPInstanceUID, sopInstance);
    dataset.findAndGetOFString(DCM_StudyInstanceUID, study);
    dataset.findAndGetOFString(DCM_SeriesInstanceUID, series);
    if (sopClass != request.AffectedSOPClassUID || sopInstance != request.AffectedSOPInstanceUID) {
        failed++;
        return STATUS_STORE_Error_DataSetDoesNotMatchSOPClass;
    }
    // The UIDs name directories: only well-formed ones, so a dataset cannot escape the incoming root.
    if (!isSafeUID(study) || !isSafeUID(series) || !isSafeUID(sopInstance)) {
        failed++;
        return STATUS_STORE_Error_CannotUnderstand;
    }
    const std::string studyDir = root + "/" + study.c_str();
    const std::string seriesDir = studyDir + "/" + series.c_str();
    const std::string finalPath = seriesDir + "/" + sopInstance.c_str() + ".dcm";
    const std::string tempPath = seriesDir + "/." + sopInstance.c_str() + ".partial-" +
                                 std::to_string(::getpid()) + "-" + std::to_string(tempCounter++);
    bool studyCreated = false, seriesCreated = false;
    if (!makeDirectory(studyDir, studyCreated) || !makeDirectory(seriesDir, seriesCreated)) {
        failed++;
        return STATUS_STORE_Refused_OutOfResources;
    }
    const E_TransferSyntax xfer = dataset.getOriginalXfer();
    OFCondition saved = file.saveFile(tempPath.c_str(), xfer, EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0, 0,
                                      EWM_createNewMeta);
    struct stat info;
    // Durable before acknowledged: the file's bytes, then its name, then any directory made for it.
    bool durable = saved.good() && syncFile(tempPath.c_str()) && ::stat(tempPath.c_str(), &info) == 0 &&
                   ::rename(tempPath.c_str(), finalPath.c_str()) == 0 && syncDirectory(seriesDir.c_str());
    if (durable && seriesCreated) durable = syncDirectory(studyDir.c_str());
    if (durable && studyCreated) durable = syncDirectory(root.c_str());
    if (!durable) {
        ::unlink(tempPath.c_str());
        failed++;
        return STATUS_STORE_Refused_OutOfResources;
    }
    instances++;
    bytes += uint64_t(info.st_size);
    if (onStored) {
        onStored(onStoredContext, study.c_str(), series.c_str(), sopInstance.c_str(), finalPath.c_str(),
                 uint64_t(info.st_size));
    }
    return STATUS_Success;
}

void mgmt_scp::handleStore(T_ASC_Association *assoc, T_ASC_PresentationContextID presID,
                           T_DIMSE_C_StoreRQ &request) {
    DcmFileFormat file;
    DcmDataset *dataset = file.getDataset();
    StoreContext context{this, &file};
    DIMSE_storeProvider(assoc, presID, &request, nullptr, OFTrue, &dataset, storeCallback, &context,
                        DIMSE_NONBLOCKING, int(idleTimeoutSeconds));
}

void mgmt_scp::serve(T_ASC_Association *assoc) {
    try {
        if (negotiate(assoc)) {
            accepted++;
            uint32_t idle = 0;
            while (true) {
                T_DIMSE_Message message;
                T_ASC_PresentationContextID presID = 0;
                OFCondition cond = DIMSE_receiveCommand(assoc, DIMSE_NONBLOCKING, 1, &presID, &message, nullptr);
                if (cond == DIMSE_NODATAAVAILABLE) {
                    if (stopping.load() || ++idle >= idleTimeoutSeconds) {
                        ASC_abortAssociation(assoc);
                        break;
                    }
                    continue;
                }
                idle = 0;
                if (cond == DUL_PEERREQUESTEDRELEASE) {
                    ASC_acknowledgeRelease(assoc);
                    break;
                }
                if (cond.bad()) {  // a peer abort or a broken connection
                    break;
                }
                if (message.CommandField == DIMSE_C_ECHO_RQ) {
                    DIMSE_sendEchoResponse(assoc, presID, &message.msg.CEchoRQ, STATUS_Success, nullptr);
                    echoes++;
                } else if (message.CommandField == DIMSE_C_STORE_RQ) {
                    handleStore(assoc, presID, message.msg.CStoreRQ);
                } else {
                    ASC_abortAssociation(assoc);  // only verification and storage are offered
                    break;
                }
            }
        }
    } catch (...) {
        ASC_abortAssociation(assoc);
    }
    ASC_dropSCPAssociation(assoc);
    ASC_destroyAssociation(&assoc);
    std::lock_guard<std::mutex> lock(mutex);
    active--;
    associationsEnded.notify_all();
}

extern "C" mgmt_scp *mgmt_scp_start(const mgmt_scp_config *config, mgmt_exchange_error *error) {
    clear(error);
    if (!config || !config->ae_title || !config->bind_address || !config->incoming_root || config->port == 0) {
        fail(error, MGMT_EXCHANGE_INVALID_ARGUMENT, "AE title, bind address, port and incoming root are required");
        return nullptr;
    }
    const size_t titleLength = std::strlen(config->ae_title);
    if (titleLength == 0 || titleLength > 16) {
        fail(error, MGMT_EXCHANGE_INVALID_ARGUMENT, "AE title must have 1 to 16 characters");
        return nullptr;
    }
    struct stat info;
    if (::stat(config->incoming_root, &info) != 0 || !S_ISDIR(info.st_mode)) {
        fail(error, MGMT_EXCHANGE_INVALID_ARGUMENT, "incoming root is not a directory");
        return nullptr;
    }
    mgmt_scp *scp = nullptr;
    mgmt_exchange_status status = guarded(error, "starting the listener", [&] {
        std::unique_ptr<mgmt_scp> created(new mgmt_scp());
        created->aeTitle = config->ae_title;
        created->root = config->incoming_root;
        for (size_t i = 0; i < config->allowed_calling_ae_title_count; ++i) {
            created->allowedCallingAETitles.emplace_back(config->allowed_calling_ae_titles[i]);
        }
        for (size_t i = 0; i < config->allowed_host_count; ++i) created->allowedHosts.emplace_back(config->allowed_hosts[i]);
        if (config->max_associations) created->maxAssociations = config->max_associations;
        if (config->idle_timeout_seconds) created->idleTimeoutSeconds = config->idle_timeout_seconds;
        created->onStored = config->on_stored;
        created->onStoredContext = config->on_stored_context;
        mgmt_dicom_register_codecs();
        storageSyntaxes();
        // A peer that vanishes mid-write must end its association, not the process.
        std::signal(SIGPIPE, SIG_IGN);
        dcmDisableGethostbyaddr.set(OFTrue);
        std::string problem;
        created->listenSocket = openListener(config->bind_address, config->port, problem);
        if (created->listenSocket < 0) {
            return fail(error, MGMT_EXCHANGE_NETWORK, "cannot listen on %s:%u: %s", config->bind_address,
                        unsigned(config->port), problem.c_str());
        }
        // Handed our socket, dcmnet makes none of its own; connections are handed to it one by one (acceptLoop).
        OFCondition cond = withExternalSocket(created->listenSocket, [&] {
            return ASC_initializeNetwork(NET_ACCEPTOR, config->port, 30, &created->network);
        });
        if (cond.bad()) {
            return fail(error, MGMT_EXCHANGE_NETWORK, "cannot start the DICOM network layer: %s", cond.text());
        }
        mgmt_scp *raw = created.get();
        created->acceptor = std::thread([raw] { raw->acceptLoop(); });
        scp = created.release();
        return MGMT_EXCHANGE_OK;
    });
    return status == MGMT_EXCHANGE_OK ? scp : nullptr;
}

extern "C" void mgmt_scp_stop(mgmt_scp *scp) {
    if (!scp) return;
    scp->stopping.store(true);
    if (scp->acceptor.joinable()) scp->acceptor.join();
    {
        std::unique_lock<std::mutex> lock(scp->mutex);
        scp->associationsEnded.wait(lock, [scp] { return scp->active == 0; });
    }
    ASC_dropNetwork(&scp->network);
    delete scp;
}

extern "C" void mgmt_scp_get_counters(const mgmt_scp *scp, mgmt_scp_counters *counters) {
    if (!scp || !counters) return;
    counters->associations_accepted = scp->accepted.load();
    counters->associations_rejected = scp->rejected.load();
    counters->contexts_declined = scp->declined.load();
    counters->echoes = scp->echoes.load();
    counters->instances_stored = scp->instances.load();
    counters->bytes_stored = scp->bytes.load();
    counters->stores_failed = scp->failed.load();
    std::lock_guard<std::mutex> lock(const_cast<mgmt_scp *>(scp)->mutex);
    counters->associations_active = scp->active;
}

extern "C" size_t mgmt_scp_storage_transfer_syntax_count(void) { return storageSyntaxes().size(); }

extern "C" const char *mgmt_scp_storage_transfer_syntax(size_t index) {
    const auto &syntaxes = storageSyntaxes();
    return index < syntaxes.size() ? syntaxes[index] : nullptr;
}
