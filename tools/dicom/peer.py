"""DICOM peers and readers the tests use against the fleet's DICOM code (run with scripts/dicom-python.sh).

  peer.py send-concurrent HOST PORT AE FILE...   two associations at once (pynetdicom), half the files each;
                                                 both are established before either sends (a barrier)
  peer.py propose-unsupported HOST PORT AE       proposes CT Image Storage and MR in JPEG 2000; prints the
                                                 accepted contexts and whether a C-ECHO still works
  peer.py check-seg SEG MASKS SOURCES            highdicom reads SEG; per frame, pixels equal the mask of its
                                                 source slice and segment (MASKS: raw uint8, slices x 2 x rows x
                                                 cols; SOURCES: JSON list of source SOP Instance UIDs in order)
  peer.py read-sr SR                             the SR's content as JSON (pydicom)
Each prints one JSON object on stdout.
"""
import json
import sys
import threading

import numpy as np
import pydicom


def send_concurrent(host, port, ae_title, files):
    from pynetdicom import AE
    from pynetdicom.sop_class import EnhancedMRImageStorage, MRImageStorage

    datasets = [pydicom.dcmread(f) for f in files]
    syntaxes = sorted({str(d.file_meta.TransferSyntaxUID) for d in datasets})
    barrier = threading.Barrier(2, timeout=30)
    results = [None, None]

    def run(index, part):
        ae = AE(ae_title="PYNETDICOM")
        for sop in (MRImageStorage, EnhancedMRImageStorage):
            for syntax in syntaxes:
                ae.add_requested_context(sop, syntax)
        assoc = ae.associate(host, port, ae_title=ae_title)
        if not assoc.is_established:
            results[index] = {"established": False}
            return
        barrier.wait()  # both associations are open at the same time
        statuses = [int(assoc.send_c_store(d).Status) for d in part]
        assoc.release()
        results[index] = {"established": True, "statuses": statuses}

    threads = [threading.Thread(target=run, args=(i, datasets[i::2])) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"associations": results}))


def propose_unsupported(host, port, ae_title):
    from pynetdicom import AE
    from pynetdicom.sop_class import CTImageStorage, MRImageStorage, Verification

    ae = AE(ae_title="PYNETDICOM")
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
    ae.add_requested_context(MRImageStorage, "1.2.840.10008.1.2.4.90")  # JPEG 2000 lossless
    ae.add_requested_context(Verification)
    assoc = ae.associate(host, port, ae_title=ae_title)
    established = assoc.is_established
    accepted = [str(c.abstract_syntax) for c in assoc.accepted_contexts] if established else []
    rejected = [str(c.abstract_syntax) for c in assoc.rejected_contexts] if established else []
    echo = int(assoc.send_c_echo().Status) if established else None
    if established:
        assoc.release()
    print(json.dumps({"established": established, "accepted": accepted, "rejected": rejected,
                      "echo": echo}))


def check_seg(seg_path, masks_path, sources_path):
    import highdicom as hd

    sources = json.load(open(sources_path))
    seg = hd.seg.segread(seg_path)
    rows, cols = int(seg.Rows), int(seg.Columns)
    masks = np.fromfile(masks_path, dtype=np.uint8).reshape(len(sources), 2, rows, cols)
    pixels = seg.pixel_array.reshape(-1, rows, cols)
    frames = []
    for index, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        source = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        segment = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        expected = masks[sources.index(source), segment - 1] != 0
        frames.append({"source": source, "segment": segment, "equal": bool(np.array_equal(pixels[index] != 0, expected))})
    expected_frames = sorted((sources[i], s + 1) for i in range(len(sources)) for s in range(2) if masks[i, s].any())
    print(json.dumps({
        "frames": frames,
        "expected_frames": [list(f) for f in expected_frames],
        "segments": [{"number": int(d.SegmentNumber), "label": d.SegmentLabel,
                      "type": d.SegmentedPropertyTypeCodeSequence[0].CodeValue,
                      "algorithm_type": d.SegmentAlgorithmType,
                      "algorithm_name": d.SegmentAlgorithmName,
                      "algorithm_version": d.SegmentationAlgorithmIdentificationSequence[0].AlgorithmVersion}
                     for d in seg.SegmentSequence],
        "study": str(seg.StudyInstanceUID), "series": str(seg.SeriesInstanceUID), "sop": str(seg.SOPInstanceUID),
        "frame_of_reference": str(seg.FrameOfReferenceUID),
        "source_series": [str(s.SeriesInstanceUID) for s in seg.ReferencedSeriesSequence],
    }))


def read_sr(path):
    ds = pydicom.dcmread(path)

    def items(sequence):
        out = []
        for item in sequence:
            entry = {"type": item.ValueType, "concept": item.ConceptNameCodeSequence[0].CodeMeaning}
            if item.ValueType == "TEXT":
                entry["value"] = item.TextValue
            elif item.ValueType == "UIDREF":
                entry["value"] = item.UID
            elif item.ValueType == "NUM":
                entry["value"] = float(item.MeasuredValueSequence[0].NumericValue)
            elif item.ValueType == "COMPOSITE":
                entry["value"] = item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
            if "ContentSequence" in item:
                entry["children"] = items(item.ContentSequence)
            out.append(entry)
        return out

    evidence = [i.ReferencedSOPInstanceUID for s in ds.get("CurrentRequestedProcedureEvidenceSequence", [])
                for r in s.ReferencedSeriesSequence for i in r.ReferencedSOPSequence]
    print(json.dumps({"sop_class": str(ds.SOPClassUID), "study": str(ds.StudyInstanceUID),
                      "sop": str(ds.SOPInstanceUID), "title": ds.ConceptNameCodeSequence[0].CodeMeaning,
                      "content": items(ds.ContentSequence), "evidence": evidence}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "send-concurrent":
        send_concurrent(args[0], int(args[1]), args[2], args[3:])
    elif command == "propose-unsupported":
        propose_unsupported(args[0], int(args[1]), args[2])
    elif command == "check-seg":
        check_seg(*args)
    elif command == "read-sr":
        read_sr(args[0])
    else:
        sys.exit(f"unknown command {command}")
