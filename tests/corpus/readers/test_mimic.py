"""MIMIC is credentialed data, so these fixtures follow the published schemas, written by the tests."""

import csv
import gzip
import io
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq

from medmix.corpus.readers.mimic_cxr import MimicCxrReader
from medmix.corpus.readers.tabular import (
    MIMIC3_COLUMNS,
    MIMIC4_COLUMNS,
    Mimic3NotesReader,
    Mimic4NotesReader,
    ParquetSourceReader,
)

NURSING_NOTE = ("Neuro: A+Ox3, MAE.\nResp: LS clear, sats 96% on 2L NC.\n"
                "Pt's daughter [**Name (NI) 1234**] called, updated.\nPlan: \"cont to monitor\"\n")


def write_csv_gz(path, header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")  # MIMIC quotes notes that hold commas, quotes and newlines
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(gzip.compress(buffer.getvalue().encode()))
    return str(path)


def noteevents(tmp_path):
    rows = [
        [174, 22532, 167853, "2151-08-04", "", "", "Discharge summary", "Report", "", "", "Admission Date: ..."],
        [175, 13702, 107527, "2118-06-14", "2118-06-14 07:14:00", "", "Nursing/other", "Report", 17574, "",
         NURSING_NOTE],
        [176, 13702, 107527, "2118-06-14", "2118-06-14 08:00:00", "", "Nursing/other", "Report", 17574, "1",
         "entered in error"],
        [177, 26880, 135453, "2162-03-03", "", "", "ECG", "Report", "", "", "Sinus rhythm. Normal ECG."],
    ]
    return write_csv_gz(tmp_path / "NOTEEVENTS.csv.gz", MIMIC3_COLUMNS, rows)


def test_mimic3_noteevents(tmp_path, run_step):
    reader = Mimic3NotesReader(tmp_path, "read", source="mimic3", domain="clinical", files=[noteevents(tmp_path)])
    result = run_step(reader)
    assert [d.id for d in result.docs] == ["174", "175", "177"]
    nursing = result.docs[1]
    assert nursing.text == NURSING_NOTE  # multi-line quoted text with commas and quotes, byte for byte
    assert nursing.metadata["SUBJECT_ID"] == "13702" and nursing.metadata["CATEGORY"] == "Nursing/other"
    assert result.reasons() == {"flagged_error": 1}
    assert result.removed[0]["id"] == "176"


def test_mimic3_category_filter(tmp_path, run_step):
    reader = Mimic3NotesReader(tmp_path, "read", source="mimic3", domain="clinical", files=[noteevents(tmp_path)],
                               categories=["Nursing/other", "Discharge summary"])
    result = run_step(reader)
    assert [d.id for d in result.docs] == ["174", "175"]
    assert result.reasons() == {"flagged_error": 1, "excluded:CATEGORY": 1}


def test_mimic4_discharge_notes(tmp_path, run_step):
    rows = [["10000032-DS-21", 10000032, 22595853, "DS", 21, "2180-05-07 00:00:00", "2180-05-09 15:26:00",
             " \nName:  ___                     Unit No:   ___\n \nAdmission Date:  ___\n"],
            ["10000084-DS-17", 10000084, 23052089, "DS", 17, "2160-11-25 00:00:00", "2160-11-25 15:09:00",
             "Sex:   M\nService: NEUROLOGY\n"]]
    path = write_csv_gz(tmp_path / "discharge.csv.gz", MIMIC4_COLUMNS, rows)
    result = run_step(Mimic4NotesReader(tmp_path, "read", source="mimic4", domain="clinical", files=[path]))
    assert [d.id for d in result.docs] == ["10000032-DS-21", "10000084-DS-17"]
    assert result.docs[0].text.startswith(" \nName:  ___")
    assert result.docs[1].metadata == {"subject_id": "10000084", "hadm_id": "23052089", "note_type": "DS",
                                       "charttime": "2160-11-25 00:00:00", "source": "mimic4", "domain": "clinical",
                                       "phi_placeholder": "___"}


REPORT = ("                                 FINAL REPORT\n EXAMINATION:  CHEST (PA AND LAT)\n\n"
          " IMPRESSION: No acute process.\n")


def test_mimic_cxr_tree_and_zip(tmp_path, run_step):
    report = tmp_path / "files" / "p10" / "p10000032" / "s50414267.txt"
    report.parent.mkdir(parents=True)
    report.write_text(REPORT)
    archive = tmp_path / "mimic-cxr-reports.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("files/p11/p11000011/s51234567.txt", REPORT)
        handle.writestr("files/p11/p11000011/index.html", "<html/>")
    stray = tmp_path / "notes.txt"
    stray.write_text("not a report")
    reader = MimicCxrReader(tmp_path, "read", source="mimic_cxr", domain="clinical",
                            files=[str(report), str(archive), str(stray)])
    result = run_step(reader)
    assert [(d.id, d.metadata["subject_id"]) for d in result.docs] == [("s50414267", "10000032"),
                                                                       ("s51234567", "11000011")]
    assert result.docs[0].text == REPORT
    assert result.reasons() == {"unexpected_path": 1}


def test_parquet_source_with_custom_keys(tmp_path, run_step):
    table = pa.table({"doc_id": ["x1", "x2", "x3"], "content": ["first text", None, "third text"],
                      "url": ["https://a", "https://b", "https://c"]})
    pq.write_table(table, tmp_path / "part.parquet", row_group_size=2)
    reader = ParquetSourceReader(tmp_path, "read", source="rp", domain="general", files=[str(tmp_path / "part.parquet")],
                           text_key="content", id_key="doc_id", metadata_keys=["url"])
    result = run_step(reader)
    assert [(d.id, d.text, d.metadata["url"]) for d in result.docs] == [("x1", "first text", "https://a"),
                                                                        ("x3", "third text", "https://c")]
    assert result.reasons() == {"empty_text": 1}
