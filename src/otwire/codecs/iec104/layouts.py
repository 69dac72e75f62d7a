"""Element layout of every decoded type identification (IEC 60870-5-101 7.3, -104 clause 8).

``LAYOUTS[type_id]`` is the tuple of element classes of one information object,
in wire order, without the IOA. Types not listed decode to raw octets.
"""

from __future__ import annotations

import struct

from otwire.codecs.iec104 import elements as el
from otwire.codecs.iec104.types import TypeId as T

Layout = tuple[type[el.Element], ...]

LAYOUTS: dict[int, Layout] = {
    # 7.3.1 process information in monitor direction
    T.M_SP_NA_1: (el.SIQ,),
    T.M_SP_TA_1: (el.SIQ, el.CP24Time2a),
    T.M_DP_NA_1: (el.DIQ,),
    T.M_DP_TA_1: (el.DIQ, el.CP24Time2a),
    T.M_ST_NA_1: (el.VTI, el.QDS),
    T.M_ST_TA_1: (el.VTI, el.QDS, el.CP24Time2a),
    T.M_BO_NA_1: (el.BSI, el.QDS),
    T.M_BO_TA_1: (el.BSI, el.QDS, el.CP24Time2a),
    T.M_ME_NA_1: (el.NVA, el.QDS),
    T.M_ME_TA_1: (el.NVA, el.QDS, el.CP24Time2a),
    T.M_ME_NB_1: (el.SVA, el.QDS),
    T.M_ME_TB_1: (el.SVA, el.QDS, el.CP24Time2a),
    T.M_ME_NC_1: (el.R32, el.QDS),
    T.M_ME_TC_1: (el.R32, el.QDS, el.CP24Time2a),
    T.M_IT_NA_1: (el.BCR,),
    T.M_IT_TA_1: (el.BCR, el.CP24Time2a),
    T.M_EP_TA_1: (el.SEP, el.CP16Time2a, el.CP24Time2a),
    T.M_EP_TB_1: (el.SPE, el.QDP, el.CP16Time2a, el.CP24Time2a),
    T.M_EP_TC_1: (el.OCI, el.QDP, el.CP16Time2a, el.CP24Time2a),
    T.M_PS_NA_1: (el.SCD, el.QDS),
    T.M_ME_ND_1: (el.NVA,),
    T.M_SP_TB_1: (el.SIQ, el.CP56Time2a),
    T.M_DP_TB_1: (el.DIQ, el.CP56Time2a),
    T.M_ST_TB_1: (el.VTI, el.QDS, el.CP56Time2a),
    T.M_BO_TB_1: (el.BSI, el.QDS, el.CP56Time2a),
    T.M_ME_TD_1: (el.NVA, el.QDS, el.CP56Time2a),
    T.M_ME_TE_1: (el.SVA, el.QDS, el.CP56Time2a),
    T.M_ME_TF_1: (el.R32, el.QDS, el.CP56Time2a),
    T.M_IT_TB_1: (el.BCR, el.CP56Time2a),
    T.M_EP_TD_1: (el.SEP, el.CP16Time2a, el.CP56Time2a),
    T.M_EP_TE_1: (el.SPE, el.QDP, el.CP16Time2a, el.CP56Time2a),
    T.M_EP_TF_1: (el.OCI, el.QDP, el.CP16Time2a, el.CP56Time2a),
    # 7.3.2 process information in control direction
    T.C_SC_NA_1: (el.SCO,),
    T.C_DC_NA_1: (el.DCO,),
    T.C_RC_NA_1: (el.RCO,),
    T.C_SE_NA_1: (el.NVA, el.QOS),
    T.C_SE_NB_1: (el.SVA, el.QOS),
    T.C_SE_NC_1: (el.R32, el.QOS),
    T.C_BO_NA_1: (el.BSI,),
    T.C_SC_TA_1: (el.SCO, el.CP56Time2a),
    T.C_DC_TA_1: (el.DCO, el.CP56Time2a),
    T.C_RC_TA_1: (el.RCO, el.CP56Time2a),
    T.C_SE_TA_1: (el.NVA, el.QOS, el.CP56Time2a),
    T.C_SE_TB_1: (el.SVA, el.QOS, el.CP56Time2a),
    T.C_SE_TC_1: (el.R32, el.QOS, el.CP56Time2a),
    T.C_BO_TA_1: (el.BSI, el.CP56Time2a),
    # 7.3.3 system information in monitor direction
    T.M_EI_NA_1: (el.COI,),
    # 7.3.4 system information in control direction
    T.C_IC_NA_1: (el.QOI,),
    T.C_CI_NA_1: (el.QCC,),
    T.C_RD_NA_1: (),
    T.C_CS_NA_1: (el.CP56Time2a,),
    T.C_TS_NA_1: (el.FBP,),
    T.C_RP_NA_1: (el.QRP,),
    T.C_CD_NA_1: (el.CP16Time2a,),
    T.C_TS_TA_1: (el.TSC, el.CP56Time2a),
    # 7.3.5 parameters in control direction
    T.P_ME_NA_1: (el.NVA, el.QPM),
    T.P_ME_NB_1: (el.SVA, el.QPM),
    T.P_ME_NC_1: (el.R32, el.QPM),
    T.P_AC_NA_1: (el.QPA,),
    # 7.3.6 file transfer
    T.F_FR_NA_1: (el.NOF, el.LOF, el.FRQ),
    T.F_SR_NA_1: (el.NOF, el.NOS, el.LOF, el.SRQ),
    T.F_SC_NA_1: (el.NOF, el.NOS, el.SCQ),
    T.F_LS_NA_1: (el.NOF, el.NOS, el.LSQ, el.CHS),
    T.F_AF_NA_1: (el.NOF, el.NOS, el.AFQ),
    T.F_SG_NA_1: (el.NOF, el.NOS, el.Segment),
    T.F_DR_TA_1: (el.NOF, el.LOF, el.SOF, el.CP56Time2a),
    T.F_SC_NB_1: (el.NOF, el.CP56Time2a, el.CP56Time2a),
}


def element_size(layout: Layout) -> int | None:
    """Return the octets of one object's elements, or ``None`` when it varies (F_SG_NA_1)."""
    if el.Segment in layout:
        return None
    return struct.calcsize("<" + "".join(cls.FORMAT for cls in layout))
