"""IEC 60870-5-104 code tables: type identification, cause of transmission, U functions.

Member names are the standard's mnemonics (IEC 60870-5-101 clause 7.2.1, -104 clause 8)
where they are identifiers, otherwise UPPER_SNAKE of the standard's phrase.
"""

from __future__ import annotations

import enum


class TypeId(enum.IntEnum):
    """Type identification, ASDU octet 1 (IEC 60870-5-101 7.2.1, -104 clause 8).

    Members are the types otwire decodes element by element. Any other value
    (reserved, private, secure authentication) decodes to a plain ``int`` with
    the information part kept as raw octets.
    """

    # Process information in monitor direction (1-21, 30-40)
    M_SP_NA_1 = 1
    M_SP_TA_1 = 2
    M_DP_NA_1 = 3
    M_DP_TA_1 = 4
    M_ST_NA_1 = 5
    M_ST_TA_1 = 6
    M_BO_NA_1 = 7
    M_BO_TA_1 = 8
    M_ME_NA_1 = 9
    M_ME_TA_1 = 10
    M_ME_NB_1 = 11
    M_ME_TB_1 = 12
    M_ME_NC_1 = 13
    M_ME_TC_1 = 14
    M_IT_NA_1 = 15
    M_IT_TA_1 = 16
    M_EP_TA_1 = 17
    M_EP_TB_1 = 18
    M_EP_TC_1 = 19
    M_PS_NA_1 = 20
    M_ME_ND_1 = 21
    M_SP_TB_1 = 30
    M_DP_TB_1 = 31
    M_ST_TB_1 = 32
    M_BO_TB_1 = 33
    M_ME_TD_1 = 34
    M_ME_TE_1 = 35
    M_ME_TF_1 = 36
    M_IT_TB_1 = 37
    M_EP_TD_1 = 38
    M_EP_TE_1 = 39
    M_EP_TF_1 = 40
    # Process information in control direction (45-51, 58-64)
    C_SC_NA_1 = 45
    C_DC_NA_1 = 46
    C_RC_NA_1 = 47
    C_SE_NA_1 = 48
    C_SE_NB_1 = 49
    C_SE_NC_1 = 50
    C_BO_NA_1 = 51
    C_SC_TA_1 = 58
    C_DC_TA_1 = 59
    C_RC_TA_1 = 60
    C_SE_TA_1 = 61
    C_SE_TB_1 = 62
    C_SE_TC_1 = 63
    C_BO_TA_1 = 64
    # System information in monitor direction
    M_EI_NA_1 = 70
    # System information in control direction (100-107)
    C_IC_NA_1 = 100
    C_CI_NA_1 = 101
    C_RD_NA_1 = 102
    C_CS_NA_1 = 103
    C_TS_NA_1 = 104
    C_RP_NA_1 = 105
    C_CD_NA_1 = 106
    C_TS_TA_1 = 107
    # Parameters in control direction (110-113)
    P_ME_NA_1 = 110
    P_ME_NB_1 = 111
    P_ME_NC_1 = 112
    P_AC_NA_1 = 113
    # File transfer (120-127)
    F_FR_NA_1 = 120
    F_SR_NA_1 = 121
    F_SC_NA_1 = 122
    F_LS_NA_1 = 123
    F_AF_NA_1 = 124
    F_SG_NA_1 = 125
    F_DR_TA_1 = 126
    F_SC_NB_1 = 127


class Cot(enum.IntEnum):
    """Cause of transmission, the 6-bit cause of ASDU octet 3 (IEC 60870-5-101 7.2.3).

    The P/N and T bits of the same octet are the ASDU's ``negative`` and ``test``.
    Values 17-19, 42-43 (reserved) and 48-63 (special use) decode to ``int``.
    """

    PERIODIC = 1
    BACKGROUND_SCAN = 2
    SPONTANEOUS = 3
    INITIALIZED = 4
    REQUEST = 5
    ACTIVATION = 6
    ACTIVATION_CON = 7
    DEACTIVATION = 8
    DEACTIVATION_CON = 9
    ACTIVATION_TERMINATION = 10
    RETURN_INFO_REMOTE = 11
    RETURN_INFO_LOCAL = 12
    FILE_TRANSFER = 13
    AUTHENTICATION = 14
    MAINTENANCE_OF_AUTH_SESSION_KEY = 15
    MAINTENANCE_OF_USER_ROLE_AND_UPDATE_KEY = 16
    INTERROGATED_BY_STATION = 20
    INTERROGATED_BY_GROUP_1 = 21
    INTERROGATED_BY_GROUP_2 = 22
    INTERROGATED_BY_GROUP_3 = 23
    INTERROGATED_BY_GROUP_4 = 24
    INTERROGATED_BY_GROUP_5 = 25
    INTERROGATED_BY_GROUP_6 = 26
    INTERROGATED_BY_GROUP_7 = 27
    INTERROGATED_BY_GROUP_8 = 28
    INTERROGATED_BY_GROUP_9 = 29
    INTERROGATED_BY_GROUP_10 = 30
    INTERROGATED_BY_GROUP_11 = 31
    INTERROGATED_BY_GROUP_12 = 32
    INTERROGATED_BY_GROUP_13 = 33
    INTERROGATED_BY_GROUP_14 = 34
    INTERROGATED_BY_GROUP_15 = 35
    INTERROGATED_BY_GROUP_16 = 36
    REQUESTED_BY_GENERAL_COUNTER = 37
    REQUESTED_BY_GROUP_1_COUNTER = 38
    REQUESTED_BY_GROUP_2_COUNTER = 39
    REQUESTED_BY_GROUP_3_COUNTER = 40
    REQUESTED_BY_GROUP_4_COUNTER = 41
    UNKNOWN_TYPE_ID = 44
    UNKNOWN_COT = 45
    UNKNOWN_CA = 46
    UNKNOWN_IOA = 47


class UFunction(enum.IntEnum):
    """U-format functions; the value is the first control octet (IEC 60870-5-104 5.3)."""

    STARTDT_ACT = 0x07
    STARTDT_CON = 0x0B
    STOPDT_ACT = 0x13
    STOPDT_CON = 0x23
    TESTFR_ACT = 0x43
    TESTFR_CON = 0x83


class Quality(enum.IntFlag):
    """Quality descriptor bits of SIQ, DIQ, QDS, QDP and SEP, at their octet positions.

    IEC 60870-5-101 7.2.6.1-7.2.6.4: OV overflow (QDS), EI elapsed time invalid
    (QDP, SEP), BL blocked, SB substituted, NT not topical, IV invalid.

    The spelled-out names (``Invalid``, ``NonTopical``, ...) are aliases, so scripts
    ported from c104 keep working; the mnemonics are the canonical names.
    """

    OV = 0x01
    EI = 0x08
    BL = 0x10
    SB = 0x20
    NT = 0x40
    IV = 0x80
    Overflow = OV
    ElapsedTimeInvalid = EI
    Blocked = BL
    Substituted = SB
    NonTopical = NT
    Invalid = IV


class DoublePoint(enum.IntEnum):
    """DPI of DIQ and ES of SEP (IEC 60870-5-101 7.2.6.2, 7.2.6.10)."""

    INTERMEDIATE = 0
    OFF = 1
    ON = 2
    INDETERMINATE = 3


class DoubleCommandState(enum.IntEnum):
    """DCS of DCO (IEC 60870-5-101 7.2.6.16); 0 and 3 are "not permitted"."""

    NOT_PERMITTED_0 = 0
    OFF = 1
    ON = 2
    NOT_PERMITTED_3 = 3


class StepCommandState(enum.IntEnum):
    """RCS of RCO (IEC 60870-5-101 7.2.6.17); 0 and 3 are "not permitted"."""

    NOT_PERMITTED_0 = 0
    LOWER = 1
    HIGHER = 2
    NOT_PERMITTED_3 = 3


class StartEvents(enum.IntFlag):
    """SPE, start events of protection equipment (IEC 60870-5-101 7.2.6.11)."""

    GS = 0x01
    SL1 = 0x02
    SL2 = 0x04
    SL3 = 0x08
    SIE = 0x10
    SRD = 0x20


class OutputCircuit(enum.IntFlag):
    """OCI, output circuit information (IEC 60870-5-101 7.2.6.12)."""

    GC = 0x01
    CL1 = 0x02
    CL2 = 0x04
    CL3 = 0x08
