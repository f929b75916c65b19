"""Tiny coding dictionaries in their distribution formats, for tests.

TEST DATA ONLY: the terms are a handful of everyday words and every code is MADE UP (they
start with 9, which no real release uses for these terms). This is NOT MedDRA or WHODrug
content; the layouts are those of the MedDRA ASCII files and the WHODrug B3 text files
(see :mod:`remit.services.coding_files`).
"""

from __future__ import annotations

from pathlib import Path

#: SOC, HLGT, HLT, PT codes of the made-up hierarchy.
SOC_NERV, SOC_GI, SOC_PSY = 90000001, 90000002, 90000003
HLGT_HEAD, HLGT_GI, HLGT_SLEEP = 91000001, 91000002, 91000003
HLT_HEAD, HLT_NAUSEA, HLT_SLEEP = 92000001, 92000002, 92000003
PT_HEADACHE, PT_NAUSEA, PT_INSOMNIA = 93000001, 93000002, 93000003
#: LLT codes: the PT's own LLT, synonyms, one non-current LLT.
LLT_HEADACHE, LLT_HEAD_PAIN, LLT_NAUSEA, LLT_FEELING_SICK = 94000001, 94000002, 94000003, 94000004
LLT_INSOMNIA, LLT_SLEEPLESSNESS, LLT_OLD_NAUSEA = 94000005, 94000006, 94000007


def _legacy(n: int) -> str:
    return "$" * n


def meddra_files(folder: Path, version: str = "99.0") -> Path:
    """Write a tiny MedDRA ASCII release (test data, made-up codes) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    socs = [(SOC_NERV, "Nervous system disorders", "Nerv"),
            (SOC_GI, "Gastrointestinal disorders", "Gastr"),
            (SOC_PSY, "Psychiatric disorders", "Psych")]  # fmt: skip
    (folder / "soc.asc").write_text("".join(f"{c}${n}${a}{_legacy(8)}\n" for c, n, a in socs))
    hlgts = [(HLGT_HEAD, "Headaches"), (HLGT_GI, "Gastrointestinal signs and symptoms"),
             (HLGT_SLEEP, "Sleep disorders and disturbances")]  # fmt: skip
    (folder / "hlgt.asc").write_text("".join(f"{c}${n}{_legacy(8)}\n" for c, n in hlgts))
    hlts = [(HLT_HEAD, "Headaches NEC"), (HLT_NAUSEA, "Nausea and vomiting symptoms"),
            (HLT_SLEEP, "Disturbances in initiating and maintaining sleep")]  # fmt: skip
    (folder / "hlt.asc").write_text("".join(f"{c}${n}{_legacy(8)}\n" for c, n in hlts))
    pts = [(PT_HEADACHE, "Headache", SOC_NERV), (PT_NAUSEA, "Nausea", SOC_GI),
           (PT_INSOMNIA, "Insomnia", SOC_PSY)]  # fmt: skip
    (folder / "pt.asc").write_text("".join(f"{c}${n}$${s}{_legacy(8)}\n" for c, n, s in pts))
    llts = [(LLT_HEADACHE, "Headache", PT_HEADACHE, "Y"),
            (LLT_HEAD_PAIN, "Head pain", PT_HEADACHE, "Y"),
            (LLT_NAUSEA, "Nausea", PT_NAUSEA, "Y"),
            (LLT_FEELING_SICK, "Feeling sick", PT_NAUSEA, "Y"),
            (LLT_INSOMNIA, "Insomnia", PT_INSOMNIA, "Y"),
            (LLT_SLEEPLESSNESS, "Sleeplessness", PT_INSOMNIA, "Y"),
            (LLT_OLD_NAUSEA, "Nausea old term", PT_NAUSEA, "N")]  # fmt: skip
    (folder / "llt.asc").write_text(
        "".join(f"{c}${n}${p}{_legacy(7)}{cur}$$\n" for c, n, p, cur in llts)
    )
    rows = [
        (PT_HEADACHE, HLT_HEAD, HLGT_HEAD, SOC_NERV, "Headache", "Headaches NEC", "Headaches",
         "Nervous system disorders", "Nerv"),
        (PT_NAUSEA, HLT_NAUSEA, HLGT_GI, SOC_GI, "Nausea", "Nausea and vomiting symptoms",
         "Gastrointestinal signs and symptoms", "Gastrointestinal disorders", "Gastr"),
        (PT_INSOMNIA, HLT_SLEEP, HLGT_SLEEP, SOC_PSY, "Insomnia",
         "Disturbances in initiating and maintaining sleep",
         "Sleep disorders and disturbances", "Psychiatric disorders", "Psych"),
    ]  # fmt: skip
    (folder / "mdhier.asc").write_text(
        "".join("$".join(str(x) for x in r) + f"$${r[3]}$Y$\n" for r in rows)
    )
    (folder / "meddra_release.asc").write_text(f"{version}$English$$$$\n")
    return folder


#: WHODrug drug codes (made up): record 900001 "TESTOXETINE" with a trade name and a salt.
DRUG_PREFERRED, DRUG_TRADE, DRUG_SALT = "90000101001", "90000101002", "90000102001"
DRUG_OTHER = "90000201001"


def _dd(code: str, name: str) -> str:
    # columns 1-11 drug code, 12 check digit, 13-30 designation … year quarter, 31- name
    return f"{code}0{'T':<18}{name}\n"


def whodrug_files(folder: Path) -> Path:
    """Write a tiny WHODrug B3 release (test data, made-up codes) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "DD.txt").write_text(
        _dd(DRUG_PREFERRED, "TESTOXETINE")
        + _dd(DRUG_TRADE, "Calmatest")
        + _dd(DRUG_SALT, "TESTOXETINE HYDROCHLORIDE")
        + _dd(DRUG_OTHER, "SLEEPAMIDE")
    )
    (folder / "DDA.txt").write_text(
        f"{DRUG_PREFERRED}0N06AB  243Y\n" + f"{DRUG_OTHER}0N05CF  243Y\n"
    )
    (folder / "INA.txt").write_text(
        "N06AB  4Selective serotonin reuptake inhibitors (test)\n"
        "N05CF  4Benzodiazepine related drugs (test)\n"
    )
    return folder


def _mp(product: int, code: str, name: str, country: str = "NOR") -> str:
    # C3 MP.txt: product ID 1-10, MedID 11-45, drug record number 46-51, sequence numbers
    # 1 (52-53) and 2 (54-56), 3 and 4 (57-76), generic flag 77, drug name 78-1577, then
    # name specifier, marketing authorisation, country … (only the first ones are read)
    return f"{product:>10}{'':35}{code}{'0' * 20}N{name:<1500}{'':30}{'':30}{'':16}{country:<10}\n"


def _thg(group: int, atc: str, official: str, product: int) -> str:
    # C3 ThG.txt: group ID 1-10, ATC code 11-20, create date 21-28, official flag 29,
    # medicinal product ID 30-39
    return f"{group:>10}{atc:<10}20240301{official}{product:>10}\n"


def whodrug_c3_files(folder: Path) -> Path:
    """Write the tiny WHODrug release of :func:`whodrug_files` in the C3 format: the same drug
    codes and names (the trade name marketed in two countries), ATC codes on the products (an
    unofficial one listed first for the preferred name, which must lose to the official)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MP.txt").write_text(
        _mp(1, DRUG_PREFERRED, "TESTOXETINE")
        + _mp(2, DRUG_TRADE, "Calmatest")
        + _mp(3, DRUG_TRADE, "Calmatest", country="SWE")
        + _mp(4, DRUG_SALT, "TESTOXETINE HYDROCHLORIDE")
        + _mp(5, DRUG_OTHER, "SLEEPAMIDE")
    )
    (folder / "ThG.txt").write_text(
        _thg(11, "N06AX", "N", 1) + _thg(12, "N06AB", "Y", 1) + _thg(13, "N05CF", "Y", 5)
    )
    (folder / "ATC.txt").write_text(
        f"{'N06AB':<10}4{'Selective serotonin reuptake inhibitors (test)':<110}\n"
        f"{'N05CF':<10}4{'Benzodiazepine related drugs (test)':<110}\n"
    )
    return folder
