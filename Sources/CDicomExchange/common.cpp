#include "common.h"
#include <fcntl.h>
#include <unistd.h>
#include "dcmtk/dcmdata/dcdeftag.h"

namespace mgmt_exchange {

static bool syncPath(const char *path, int flags) {
    const int fd = ::open(path, flags | O_CLOEXEC);
    if (fd < 0) return false;
    const bool synced = ::fsync(fd) == 0;
    return ::close(fd) == 0 && synced;
}

std::string decimal(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.10g", value);
    return text;
}

mgmt_exchange_status writeStudyAttributes(DcmItem &dataset, const mgmt_study_attributes &study,
                                          mgmt_exchange_error *error) {
    const std::pair<DcmTagKey, const char *> values[] = {
        {DCM_PatientName, study.patient_name},
        {DCM_PatientID, study.patient_id},
        {DCM_PatientBirthDate, study.patient_birth_date},
        {DCM_PatientSex, study.patient_sex},
        {DCM_StudyInstanceUID, study.study_instance_uid},
        {DCM_StudyDate, study.study_date},
        {DCM_StudyTime, study.study_time},
        {DCM_StudyID, study.study_id},
        {DCM_AccessionNumber, study.accession_number},
        {DCM_ReferringPhysicianName, study.referring_physician_name},
    };
    bool utf8 = false;
    for (const auto &value : values) {
        for (const char *c = orEmpty(value.second); *c; ++c) utf8 = utf8 || (static_cast<unsigned char>(*c) & 0x80);
        OFCondition cond = dataset.putAndInsertString(value.first, orEmpty(value.second));
        if (cond.bad()) {
            return fail(error, MGMT_EXCHANGE_ENCODE, "cannot write %s: %s", DcmTag(value.first).getTagName(),
                        cond.text());
        }
    }
    if (utf8) dataset.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
    return MGMT_EXCHANGE_OK;
}

bool syncFile(const char *path) { return syncPath(path, O_RDONLY); }
bool syncDirectory(const char *path) { return syncPath(path, O_RDONLY | O_DIRECTORY); }

}  // namespace mgmt_exchange
