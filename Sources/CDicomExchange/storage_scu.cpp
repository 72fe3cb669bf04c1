// The Storage SCU: sends files to a peer AE by C-STORE (and C-ECHO to check it answers).
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/dul.h"
#include <csignal>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include "CDicom.h"
#include "common.h"

using namespace mgmt_exchange;

namespace {

const long kMaxPDU = 65536;

/// A requested association, released (or aborted) and freed on scope exit.
class Association {
public:
    ~Association() {
        if (assoc_) {
            if (release_) {
                if (ASC_releaseAssociation(assoc_).bad()) ASC_abortAssociation(assoc_);
            } else {
                ASC_abortAssociation(assoc_);
            }
            ASC_destroyAssociation(&assoc_);
        }
        if (network_) ASC_dropNetwork(&network_);
    }

    /// Proposes one presentation context per (SOP class, transfer syntaxes) entry and connects.
    mgmt_exchange_status open(const mgmt_scu_config &config,
                              const std::vector<std::pair<std::string, std::vector<std::string>>> &contexts,
                              mgmt_exchange_error *error) {
        peer_ = std::string(orEmpty(config.called_ae_title)) + "@" + orEmpty(config.host) + ":" +
                std::to_string(config.port);
        std::signal(SIGPIPE, SIG_IGN);
        const int timeout = int(config.timeout_seconds ? config.timeout_seconds : 30);
        OFCondition cond = ASC_initializeNetwork(NET_REQUESTOR, 0, timeout, &network_);
        if (cond.bad()) return fail(error, MGMT_EXCHANGE_NETWORK, "cannot initialise the network: %s", cond.text());
        T_ASC_Parameters *params = nullptr;
        dcmConnectionTimeout.set(timeout);  // process-wide; every sender here uses its configured value
        cond = ASC_createAssociationParameters(&params, kMaxPDU);
        if (cond.bad()) return fail(error, MGMT_EXCHANGE_INTERNAL, "association parameters: %s", cond.text());
        ASC_setAPTitles(params, orEmpty(config.calling_ae_title), orEmpty(config.called_ae_title), nullptr);
        const std::string address = std::string(orEmpty(config.host)) + ":" + std::to_string(config.port);
        ASC_setPresentationAddresses(params, "localhost", address.c_str());
        T_ASC_PresentationContextID id = 1;
        for (const auto &context : contexts) {
            std::vector<const char *> syntaxes;
            for (const auto &syntax : context.second) syntaxes.push_back(syntax.c_str());
            ASC_addPresentationContext(params, id, context.first.c_str(), syntaxes.data(), int(syntaxes.size()));
            id += 2;
        }
        // On success the association owns the parameters; on failure they are freed with it or here.
        cond = ASC_requestAssociation(network_, params, &assoc_);
        if (cond.bad()) {
            if (!assoc_) ASC_destroyAssociationParameters(&params);
            if (cond == DUL_ASSOCIATIONREJECTED) {
                T_ASC_RejectParameters rejection;
                ASC_getRejectParameters(assoc_->params, &rejection);
                OFString reason;
                ASC_printRejectParameters(reason, &rejection);
                return fail(error, MGMT_EXCHANGE_REFUSED, "%s rejected the association: %s", peer_.c_str(),
                            reason.c_str());
            }
            return fail(error, MGMT_EXCHANGE_NETWORK, "cannot associate with %s: %s", peer_.c_str(), cond.text());
        }
        if (ASC_countAcceptedPresentationContexts(assoc_->params) == 0) {
            return fail(error, MGMT_EXCHANGE_REFUSED, "%s accepted none of the proposed presentation contexts",
                        peer_.c_str());
        }
        return MGMT_EXCHANGE_OK;
    }

    T_ASC_Association *get() const { return assoc_; }
    const std::string &peer() const { return peer_; }
    /// After a clean exchange the association is released rather than aborted.
    void releaseOnClose() { release_ = true; }

private:
    T_ASC_Network *network_ = nullptr;
    T_ASC_Association *assoc_ = nullptr;
    std::string peer_;
    bool release_ = false;
};

struct Outgoing {
    std::string path, sopClass, sopInstance, syntax;
    std::unique_ptr<DcmFileFormat> file;
};

bool isSuccessOrWarning(Uint16 status) {
    return status == STATUS_Success || (status & 0xF000) == 0xB000;
}

int timeoutOf(const mgmt_scu_config &config) { return int(config.timeout_seconds ? config.timeout_seconds : 30); }

}  // namespace

extern "C" mgmt_exchange_status mgmt_scu_send(const mgmt_scu_config *config, const char *const *paths, size_t count,
                                              mgmt_exchange_error *error) {
    clear(error);
    if (!config || !config->host || config->port == 0 || (count && !paths)) {
        return fail(error, MGMT_EXCHANGE_INVALID_ARGUMENT, "host, port and paths are required");
    }
    if (count == 0) return MGMT_EXCHANGE_OK;
    mgmt_dicom_register_codecs();
    return guarded(error, "sending", [&] {
        std::vector<Outgoing> files(count);
        std::vector<std::pair<std::string, std::vector<std::string>>> contexts;
        for (size_t i = 0; i < count; ++i) {
            Outgoing &file = files[i];
            file.path = orEmpty(paths[i]);
            file.file.reset(new DcmFileFormat());
            OFCondition cond = file.file->loadFile(file.path.c_str());
            if (cond.bad()) return fail(error, MGMT_EXCHANGE_IO, "%s: cannot read: %s", file.path.c_str(), cond.text());
            OFString value;
            file.file->getDataset()->findAndGetOFString(DCM_SOPClassUID, value);
            file.sopClass = value.c_str();
            file.file->getDataset()->findAndGetOFString(DCM_SOPInstanceUID, value);
            file.sopInstance = value.c_str();
            file.syntax = DcmXfer(file.file->getDataset()->getOriginalXfer()).getXferID();
            if (file.sopClass.empty() || file.sopInstance.empty()) {
                return fail(error, MGMT_EXCHANGE_IO, "%s: no SOP Class or SOP Instance UID", file.path.c_str());
            }
            std::vector<std::string> syntaxes{file.syntax};
            for (const char *uncompressed : {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax}) {
                if (file.syntax != uncompressed) syntaxes.emplace_back(uncompressed);
            }
            bool known = false;
            for (const auto &context : contexts) known = known || (context.first == file.sopClass && context.second == syntaxes);
            if (!known) contexts.emplace_back(file.sopClass, syntaxes);
        }
        if (contexts.size() > 128) return fail(error, MGMT_EXCHANGE_INVALID_ARGUMENT, "too many kinds of files in one send");
        Association association;
        mgmt_exchange_status status = association.open(*config, contexts, error);
        if (status != MGMT_EXCHANGE_OK) return status;
        T_ASC_Association *assoc = association.get();
        for (Outgoing &file : files) {
            T_ASC_PresentationContextID presID =
                ASC_findAcceptedPresentationContextID(assoc, file.sopClass.c_str(), file.syntax.c_str());
            if (presID == 0) presID = ASC_findAcceptedPresentationContextID(assoc, file.sopClass.c_str());
            if (presID == 0) {
                return fail(error, MGMT_EXCHANGE_REFUSED, "%s: %s declined SOP class %s", file.path.c_str(),
                            association.peer().c_str(), file.sopClass.c_str());
            }
            // The peer may have accepted the SOP class only uncompressed: convert (decode) before sending.
            T_ASC_PresentationContext context;
            ASC_findAcceptedPresentationContext(assoc->params, presID, &context);
            const E_TransferSyntax accepted = DcmXfer(context.acceptedTransferSyntax).getXfer();
            DcmDataset *dataset = file.file->getDataset();
            if (file.syntax != context.acceptedTransferSyntax &&
                (dataset->chooseRepresentation(accepted, nullptr).bad() || !dataset->canWriteXfer(accepted))) {
                return fail(error, MGMT_EXCHANGE_REFUSED, "%s: %s accepts it only in %s, and it cannot be converted",
                            file.path.c_str(), association.peer().c_str(), DcmXfer(accepted).getXferName());
            }
            T_DIMSE_C_StoreRQ request;
            std::memset(&request, 0, sizeof request);
            request.MessageID = assoc->nextMsgID++;
            OFStandard::strlcpy(request.AffectedSOPClassUID, file.sopClass.c_str(), sizeof request.AffectedSOPClassUID);
            OFStandard::strlcpy(request.AffectedSOPInstanceUID, file.sopInstance.c_str(),
                                sizeof request.AffectedSOPInstanceUID);
            request.DataSetType = DIMSE_DATASET_PRESENT;
            request.Priority = DIMSE_PRIORITY_MEDIUM;
            T_DIMSE_C_StoreRSP response;
            std::memset(&response, 0, sizeof response);
            DcmDataset *detail = nullptr;
            OFCondition cond = DIMSE_storeUser(assoc, presID, &request, nullptr, dataset, nullptr,
                                               nullptr, DIMSE_NONBLOCKING, timeoutOf(*config), &response, &detail);
            delete detail;
            if (cond.bad()) {
                return fail(error, MGMT_EXCHANGE_NETWORK, "%s: C-STORE to %s failed: %s", file.path.c_str(),
                            association.peer().c_str(), cond.text());
            }
            if (!isSuccessOrWarning(response.DimseStatus)) {
                return fail(error, MGMT_EXCHANGE_REFUSED, "%s: %s answered C-STORE with status 0x%04x",
                            file.path.c_str(), association.peer().c_str(), unsigned(response.DimseStatus));
            }
            file.file.reset();  // one file's dataset in memory at a time once sent
        }
        association.releaseOnClose();
        return MGMT_EXCHANGE_OK;
    });
}

extern "C" mgmt_exchange_status mgmt_scu_echo(const mgmt_scu_config *config, mgmt_exchange_error *error) {
    clear(error);
    if (!config || !config->host || config->port == 0) {
        return fail(error, MGMT_EXCHANGE_INVALID_ARGUMENT, "host and port are required");
    }
    return guarded(error, "echoing", [&] {
        Association association;
        mgmt_exchange_status status = association.open(
            *config, {{UID_VerificationSOPClass, {UID_LittleEndianImplicitTransferSyntax}}}, error);
        if (status != MGMT_EXCHANGE_OK) return status;
        DIC_US answer = 0;
        DcmDataset *detail = nullptr;
        OFCondition cond = DIMSE_echoUser(association.get(), association.get()->nextMsgID++, DIMSE_NONBLOCKING,
                                          timeoutOf(*config), &answer, &detail);
        delete detail;
        if (cond.bad()) {
            return fail(error, MGMT_EXCHANGE_NETWORK, "C-ECHO to %s failed: %s", association.peer().c_str(), cond.text());
        }
        if (answer != STATUS_Success) {
            return fail(error, MGMT_EXCHANGE_REFUSED, "%s answered C-ECHO with status 0x%04x", association.peer().c_str(),
                        unsigned(answer));
        }
        association.releaseOnClose();
        return MGMT_EXCHANGE_OK;
    });
}
