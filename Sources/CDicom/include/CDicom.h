// C API over DCMTK: the only place that touches DCMTK. Filled in by the DICOM work.
#ifndef MGMT_CDICOM_H
#define MGMT_CDICOM_H
#ifdef __cplusplus
extern "C" {
#endif
/// Registers DCMTK's JPEG, JPEG-LS and RLE decoders once per process.
void mgmt_dicom_register_codecs(void);
#ifdef __cplusplus
}
#endif
#endif
