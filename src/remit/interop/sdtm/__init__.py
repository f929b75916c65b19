"""SDTM domains from the trial data and the protocol: DM, EX, EC, CM, QS/RS, AE, VS, DS, DV, SV,
TA, TE, TV, TS.

One module per group of domains: :mod:`~remit.interop.sdtm.base` (dates, study days,
``--SEQ``, shared variables), :mod:`~remit.interop.sdtm.special` (DM, SV),
:mod:`~remit.interop.sdtm.interventions` (EX, EC), :mod:`~remit.interop.sdtm.medications`
(CM), :mod:`~remit.interop.sdtm.findings`
(QS/RS), :mod:`~remit.interop.sdtm.events` (AE, DS, DV), :mod:`~remit.interop.sdtm.vs` (VS) and
:mod:`~remit.interop.sdtm.trial_design` (TE, TA, TV). See ``base`` for the SDTM IG conventions.
"""

from __future__ import annotations

from remit.analysis import TrialData
from remit.interop.dataset import Dataset
from remit.interop.sdtm.base import (
    CLINICIAN_DOMAINS,
    EPOCHS,
    ClinicianDomain,
    Context,
    SdtmSettings,
    duration,
    iso_date,
    iso_datetime,
    study_day,
)
from remit.interop.sdtm.events import build_ae, build_ds, build_dv
from remit.interop.sdtm.findings import clinician_scales, findings_about_scales
from remit.interop.sdtm.interventions import build_ec, build_ex
from remit.interop.sdtm.medications import build_cm
from remit.interop.sdtm.special import build_dm, build_sv
from remit.interop.sdtm.suppqual import build_supp
from remit.interop.sdtm.trial_design import build_ta, build_te, build_tv
from remit.interop.sdtm.ts import build_ts
from remit.interop.sdtm.vs import build_vs
from remit.protocol import Protocol


def build_sdtm(
    data: TrialData,
    protocol: Protocol,
    settings: SdtmSettings | None = None,
    ctx: Context | None = None,
) -> dict[str, Dataset]:
    """Every SDTM domain, by name (QS and/or RS, depending on ``settings``).

    ``VISITDY`` in TV is left empty: the protocol times visits from anchors (referral,
    earlier visits), not from a single study day 1. ``ctx``: a context of the same data and
    protocol shared with an ADaM build (:func:`remit.interop.adam.build_adam`).
    """
    settings = settings or SdtmSettings()
    ctx = ctx or Context(data, protocol)
    scales = set(data.scores["scale"].astype(str))
    clinician = clinician_scales(scales) if settings.clinician_domain == "RS" else set()
    out = {
        "DM": build_dm(ctx),
        "EX": build_ex(ctx),
        "EC": build_ec(ctx),
        "CM": build_cm(ctx),
        "QS": findings_about_scales(ctx, "QS", scales - clinician),
    }
    if clinician:
        out["RS"] = findings_about_scales(ctx, "RS", clinician)
    out |= {
        "AE": build_ae(ctx),
        "VS": build_vs(ctx),
        "DS": build_ds(ctx),
        "DV": build_dv(ctx),
        "SV": build_sv(ctx),
        "TA": build_ta(protocol),
        "TE": build_te(protocol),
        "TV": build_tv(protocol),
        "TS": build_ts(ctx, settings.data_cut),
    }
    for ds in list(out.values()):
        supp = build_supp(ds)
        if supp is not None:
            out[supp.name] = supp
    return out


__all__ = [
    "CLINICIAN_DOMAINS",
    "EPOCHS",
    "ClinicianDomain",
    "SdtmSettings",
    "build_sdtm",
    "duration",
    "iso_date",
    "iso_datetime",
    "study_day",
]
