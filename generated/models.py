"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

from __future__ import annotations

from typing import Annotated, Literal
from pydantic import Base64Bytes, BaseModel, ConfigDict, Field, RootModel
from enum import IntEnum, StrEnum


class HiImgIndx(RootModel[str]):
    root: Annotated[
        str,
        Field(
            examples=[
                "111-110101197804050038-20241122143000-0000000000000-000000000-123502004266007980"
            ],
            max_length=100,
            pattern="^(?:[0-9A-Z]{1,6})-(?:[0-9A-Z]{1,34})-(?:[0-9]{14})-(?:0|[0-9A-Z]{13})-(?:0|[0-9A-Z]{9})(?:-(?:[0-9A-Z]{18}))?$",
            title="医保影像云索引编码",
        ),
    ]
    """
    §1.2: 证件类型-证件号码-检查日期时间代码-成像设备代码-检查部位代码, 以 '-' 连接; 文档示例另带第 6 部分 (见 ERRATA E-INDEX-6)。第 4、5 部分的一个 0 与全零是同一值的两种写法, 指同一检查, 规范写法为全零 (ERRATA E-INDEX-SPELLING)。
    """


class PsnCertType(StrEnum):
    """
    采用《公安信息代码第156 部分：常用证件代码》（GA/T2000.156—2016 ）中常用证件代码
    """

    field_111 = "111"
    field_112 = "112"
    field_113 = "113"
    field_114 = "114"
    field_115 = "115"
    field_117 = "117"
    field_118 = "118"
    field_119 = "119"
    field_120 = "120"
    field_121 = "121"
    field_122 = "122"
    field_123 = "123"
    field_125 = "125"
    field_127 = "127"
    field_131 = "131"
    field_133 = "133"
    field_154 = "154"
    field_211 = "211"
    field_213 = "213"
    field_217 = "217"
    field_219 = "219"
    field_221 = "221"
    field_223 = "223"
    field_225 = "225"
    field_227 = "227"
    field_229 = "229"
    field_231 = "231"
    field_411 = "411"
    field_412 = "412"
    field_413 = "413"
    field_414 = "414"
    field_415 = "415"
    field_417 = "417"
    field_418 = "418"
    field_419 = "419"
    field_420 = "420"
    field_421 = "421"
    field_511 = "511"
    field_513 = "513"
    field_515 = "515"
    field_516 = "516"
    field_517 = "517"
    field_518 = "518"
    field_552 = "552"
    field_553 = "553"
    field_554 = "554"
    field_555 = "555"
    field_556 = "556"
    field_557 = "557"
    field_558 = "558"
    field_791 = "791"
    field_792 = "792"
    field_990 = "990"


class Gend(StrEnum):
    """
    数据字典，详见字典【性别 gend】
    """

    field_0 = "0"
    field_1 = "1"
    field_2 = "2"
    field_9 = "9"


class Age(RootModel[str | None]):
    root: Annotated[
        str | None, Field(pattern="^$|^[0-9]{1,4}(?:\\.[0-9]{1,1})?$", title="年龄")
    ] = None
    """
    长度 5, 保留小数点后 1 位。
    """


class Age1(RootModel[float]):
    root: Annotated[float, Field(ge=0.0, le=9999.9, title="年龄")]
    """
    长度 5, 保留小数点后 1 位。
    """


class Prfs(StrEnum):
    """
    数据字典，详见字典【职业 prfs】
    """

    field_ = ""
    field_11 = "11"
    field_13 = "13"
    field_17 = "17"
    field_21 = "21"
    field_24 = "24"
    field_27 = "27"
    field_31 = "31"
    field_37 = "37"
    field_51 = "51"
    field_54 = "54"
    field_70 = "70"
    field_80 = "80"
    field_90 = "90"


class ChargeType(StrEnum):
    """
    数据字典：详见字典【费用类型 chargeType】
    """

    field_01 = "01"
    field_02 = "02"
    field_03 = "03"


class ExamCharge(RootModel[str]):
    root: Annotated[
        str, Field(pattern="^[0-9]{1,6}(?:\\.[0-9]{1,2})?$", title="检查费用")
    ]
    """
    检查费用
    """


class ExamCharge1(RootModel[float]):
    root: Annotated[float, Field(ge=0.0, le=999999.99, title="检查费用")]
    """
    检查费用
    """


class ExamRsltCode(StrEnum):
    """
    (1-阴性;2-阳性;3-不确定)
    """

    field_ = ""
    field_1 = "1"
    field_2 = "2"
    field_3 = "3"


class HospLv(StrEnum):
    """
    数据字典，详见字典【医院等级 hosp_lv】
    """

    field_01 = "01"
    field_02 = "02"
    field_03 = "03"
    field_04 = "04"
    field_05 = "05"
    field_06 = "06"
    field_07 = "07"
    field_08 = "08"
    field_09 = "09"
    field_10 = "10"
    field_11 = "11"
    field_12 = "12"
    field_13 = "13"
    field_14 = "14"


class ExamPart(StrEnum):
    """
    采用《卫生健康信息数据元值域代码第 8 部分：临床辅助检查》数据(WS/T 364.8-2023)中常用放射诊断检查技术编码，由 9 位大写英文字母和阿拉伯数字组成。
    """

    b020_zyzzz = "B020ZYZZZ"
    b02910_zzz = "B02910ZZZ"
    b030_zyzzz = "B030ZYZZZ"
    b03950_zzz = "B03950ZZZ"
    b03_dzyzzz = "B03DZYZZZ"
    b030_zgzzz = "B030ZGZZZ"
    b030_zjzzz = "B030ZJZZZ"
    b2063_zz5_z = "B2063ZZ5Z"
    b226_zyzzz = "B226ZYZZZ"
    b2261_xzzz = "B2261XZZZ"
    b2211_wzzz = "B2211WZZZ"
    b236_zyzzz = "B236ZYZZZ"
    b2365_xzzz = "B2365XZZZ"
    b2365_wzzz = "B2365WZZZ"
    b32_r1_wzzz = "B32R1WZZZ"
    b3251_wzzz = "B3251WZZZ"
    b3201_wzzz = "B3201WZZZ"
    b32_g1_wzzz = "B32G1WZZZ"
    b32_p1_wzzz = "B32P1WZZZ"
    b32_w1_wzzz = "B32W1WZZZ"
    b32_h1_wzzz = "B32H1WZZZ"
    b32_j1_wzzz = "B32J1WZZZ"
    b33_rzwzzz = "B33RZWZZZ"
    b33_r5_wzzz = "B33R5WZZZ"
    b335_zwzzz = "B335ZWZZZ"
    b3355_wzzz = "B3355WZZZ"
    b330_zwzzz = "B330ZWZZZ"
    b3305_wzzz = "B3305WZZZ"
    b33_gzwzzz = "B33GZWZZZ"
    b33_pzwzzz = "B33PZWZZZ"
    b33_wzwzzz = "B33WZWZZZ"
    b33_hzwzzz = "B33HZWZZZ"
    b33_jzwzzz = "B33JZWZZZ"
    b33_g5_wzzz = "B33G5WZZZ"
    b33_p5_wzzz = "B33P5WZZZ"
    b33_w5_wzzz = "B33W5WZZZ"
    b33_h5_wzzz = "B33H5WZZZ"
    b33_j5_wzzz = "B33J5WZZZ"
    b4201_wzzz = "B4201WZZZ"
    b4211_wzzz = "B4211WZZZ"
    b4221_wzzz = "B4221WZZZ"
    b4231_wzzz = "B4231WZZZ"
    b4241_wzzz = "B4241WZZZ"
    b4251_wzzz = "B4251WZZZ"
    b4281_wzzz = "B4281WZZZ"
    bd053_zzzz = "BD053ZZZZ"
    bd033_z3_zz = "BD033Z3ZZ"
    bd033_z2_zz = "BD033Z2ZZ"
    bd033_zzzz = "BD033ZZZZ"
    bd043_z4_zz = "BD043Z4ZZ"
    bd0433_zzz = "BD0433ZZZ"
    bd0_c3_zzzz = "BD0C3ZZZZ"
    bd0 = "BD0"
    bd22_zyzzz = "BD22ZYZZZ"
    bd2210_zzz = "BD2210ZZZ"
    bd29_zyzzz = "BD29ZYZZZ"
    bd2910_zzz = "BD2910ZZZ"
    bd23_zyzzz = "BD23ZYZZZ"
    bd2310_zzz = "BD2310ZZZ"
    bd24_zyzzz = "BD24ZYZZZ"
    bd241_yzzz = "BD241YZZZ"
    bd2_czyzzz = "BD2CZYZZZ"
    bd2_c1_yzzz = "BD2C1YZZZ"
    bf000_zrzz = "BF000ZRZZ"
    bf000_zpzz = "BF000ZPZZ"
    bf00_qzqzz = "BF00QZQZZ"
    bf25_zyzzz = "BF25ZYZZZ"
    bf251_yzzz = "BF251YZZZ"
    bf27_zyzzz = "BF27ZYZZZ"
    bf271_yzzz = "BF271YZZZ"
    bf22_zyzzz = "BF22ZYZZZ"
    bf221_yzzz = "BF221YZZZ"
    bf2 = "BF2"
    bf26_zyzzz = "BF26ZYZZZ"
    bf261_yzzz = "BF261YZZZ"
    bf35_zyzzz = "BF35ZYZZZ"
    bf3550_zzz = "BF3550ZZZ"
    bf37_zyzzz = "BF37ZYZZZ"
    bf3750_zzz = "BF3750ZZZ"
    bf34 = "BF34"
    bg20_zyzzz = "BG20ZYZZZ"
    bg201_yzzz = "BG201YZZZ"
    bg24_zyzzz = "BG24ZYZZZ"
    bp0_kzzzz2 = "BP0KZZZZ2"
    bp0_kzzzm1 = "BP0KZZZM1"
    bp0_nzzzz1 = "BP0NZZZZ1"
    bp0_nzzzza = "BP0NZZZZA"
    bp0_nzzzz7 = "BP0NZZZZ7"
    bp0_nzzzz6 = "BP0NZZZZ6"
    bp0_pzzzz1 = "BP0PZZZZ1"
    bp0_pzzzza = "BP0PZZZZA"
    bp0_pzzzz7 = "BP0PZZZZ7"
    bp0_pzzzz6 = "BP0PZZZZ6"
    bp0_wzzz81 = "BP0WZZZ81"
    bp0_wzzz80 = "BP0WZZZ80"
    bp0_wzzz86 = "BP0WZZZ86"
    bp0_wzz87 = "BP0WZZ87"
    bp0_xzzc81 = "BP0XZZC81"
    bp0_xzzc80 = "BP0XZZC80"
    bp0_xzzc86 = "BP0XZZC86"
    bp0_xzzc87 = "BP0XZZC87"
    bp0_yzzc81 = "BP0YZZC81"
    bp0_yzzc80 = "BP0YZZC80"
    bp0_yzzc86 = "BP0YZZC86"
    bp0_yzzc87 = "BP0YZZC87"
    bp0_xzzd81 = "BP0XZZD81"
    bp0_xzzd80 = "BP0XZZD80"
    bp0_xzzd86 = "BP0XZZD86"
    bp0_xzzd87 = "BP0XZZD87"
    bp0_yzzd81 = "BP0YZZD81"
    bp0_yzzd80 = "BP0YZZD80"
    bp0_yzzd86 = "BP0YZZD86"
    bp0_yzzd87 = "BP0YZZD87"
    bp2_nzuzzz = "BP2NZUZZZ"
    bp2_n10_zzz = "BP2N10ZZZ"
    bp2_lzuzzz = "BP2LZUZZZ"
    bp2_l10_zzz = "BP2L10ZZZ"
    bp2_gzuzzz = "BP2GZUZZZ"
    bp2_g10_zzz = "BP2G10ZZZ"
    bp28_zuzzz = "BP28ZUZZZ"
    bp2810_zzz = "BP2810ZZZ"
    bq0_lzzgza = "BQ0LZZGZA"
    bq0_mzzzz0 = "BQ0MZZZZ0"
    bq0_mzzzn0 = "BQ0MZZZN0"
    bq0_mzzzk0 = "BQ0MZZZK0"
    bq0_mzzzza = "BQ0MZZZZA"
    bq0_mzzgza = "BQ0MZZGZA"
    bq2_xzuzzz = "BQ2XZUZZZ"
    bq2_x10_zzz = "BQ2X10ZZZ"
    bq27_zuzzz = "BQ27ZUZZZ"
    bq2710_zzz = "BQ2710ZZZ"
    bq20_zuzzz = "BQ20ZUZZZ"
    bq2010_zzz = "BQ2010ZZZ"
    bq2_yzuzzz = "BQ2YZUZZZ"
    bq2_y10_zzz = "BQ2Y10ZZZ"
    bq28_zuzzz = "BQ28ZUZZZ"
    bq2810_zzz = "BQ2810ZZZ"
    bq21_zuzzz = "BQ21ZUZZZ"
    bq2110_zzz = "BQ2110ZZZ"
    bq2_dzuzzz = "BQ2DZUZZZ"
    bq2_d10_zzz = "BQ2D10ZZZ"
    bq2_fzuzzz = "BQ2FZUZZZ"
    bq3_xzyzzz = "BQ3XZYZZZ"
    bq3_x50_zzz = "BQ3X50ZZZ"
    bq37_zyzzz = "BQ37ZYZZZ"
    bq3750_zzz = "BQ3750ZZZ"
    bq30_zyzzz = "BQ30ZYZZZ"
    bq3050_zzz = "BQ3050ZZZ"
    bq3_yzyzzz = "BQ3YZYZZZ"
    bq3_y50_zzz = "BQ3Y50ZZZ"
    bq38_zyzzz = "BQ38ZYZZZ"
    bq3850_zzz = "BQ3850ZZZ"
    bq31_zyzzz = "BQ31ZYZZZ"
    bq3150_zzz = "BQ3150ZZZ"
    bq3_dzyzzz = "BQ3DZYZZZ"
    bq3_d50_zzz = "BQ3D50ZZZ"
    bq3_fzyzzz = "BQ3FZYZZZ"
    bq3_f50_zzz = "BQ3F50ZZZ"
    bw33_zyzzz = "BW33ZYZZZ"
    bw3350_zzz = "BW3350ZZZ"
    b02010_zzz = "B02010ZZZ"
    b02_czyzzz = "B02CZYZZZ"
    b03050_zzz = "B03050ZZZ"
    b03_czyzzz = "B03CZYZZZ"
    b03_d50_zzz = "B03D50ZZZ"
    b0305_fzzz = "B0305FZZZ"
    b206_zzzz1 = "B206ZZZZ1"
    b206_zzzz6 = "B206ZZZZ6"
    b42_m1_wzzz = "B42M1WZZZ"
    b42_p1_wzzz = "B42P1WZZZ"
    b42_h1_wzzz = "B42H1WZZZ"
    b4305_wzzz = "B4305WZZZ"
    b4315_wzzz = "B4315WZZZ"
    b4325_wzzz = "B4325WZZZ"
    b4335_wzzz = "B4335WZZZ"
    b4345_wzzz = "B4345WZZZ"
    b4355_wzzz = "B4355WZZZ"
    b4385_wzzz = "B4385WZZZ"
    b43_m5_wzzz = "B43M5WZZZ"
    b43_p5_wzzz = "B43P5WZZZ"
    b43_h5_wzzz = "B43H5WZZZ"
    b430_zwzzz = "B430ZWZZZ"
    b431_zwzzz = "B431ZWZZZ"
    b432_zwzzz = "B432ZWZZZ"
    b433_zwzzz = "B433ZWZZZ"
    b434_zwzzz = "B434ZWZZZ"
    b435_zwzzz = "B435ZWZZZ"
    b438_zwzzz = "B438ZWZZZ"
    b43_mzwzzz = "B43MZWZZZ"
    b43_pzwzzz = "B43PZWZZZ"
    b43_hzwzzz = "B43HZWZZZ"
    b50_b0_zzz = "B50B0ZZZ"
    b50_c0_zzz = "B50C0ZZZ"
    b50_d0_zzz = "B50D0ZZZ"
    b52_t1_wzzz = "B52T1WZZZ"
    b531_z = "B531Z"
    b532_zwzzz = "B532ZWZZZ"
    b533_zwzzz = "B533ZWZZZ"
    b534_zwzzz = "B534ZWZZZ"
    b535_zwzzz = "B535ZWZZZ"
    b538_zwzzz = "B538ZWZZZ"
    b539_zwzzz = "B539ZWZZZ"
    b5375_wzzz = "B5375WZZZ"
    b53_hzwzzz = "B53HZWZZZ"
    b536_zwzzz = "B536ZWZZZ"
    b537_zwzzz = "B537ZWZZZ"
    bg241_yzzz = "BG241YZZZ"
    bg3_zyzzz = "BG3ZYZZZ"
    bg350_zzz = "BG350ZZZ"
    bh01_zzzzg = "BH01ZZZZG"
    bh00_zzzzg = "BH00ZZZZG"
    bh02_zzzzg = "BH02ZZZZG"
    bh010_zfzg = "BH010ZFZG"
    bh000_zfzg = "BH000ZFZG"
    bh020_zfzg = "BH020ZFZG"
    bh32_zyzzz = "BH32ZYZZZ"
    bh325_azzz = "BH325AZZZ"
    bn00_zzz11 = "BN00ZZZ11"
    bn00_zzz1_a = "BN00ZZZ1A"
    bn00_zzz03 = "BN00ZZZ03"
    bn0_mzzz02 = "BN0MZZZ02"
    bn0_lzzz1_a = "BN0LZZZ1A"
    bn0_lzzz11 = "BN0LZZZ11"
    bn0_lzzz03 = "BN0LZZZ03"
    bn03_zzz11 = "BN03ZZZ11"
    bn03_zzz1_a = "BN03ZZZ1A"
    bn09_zzz51_a = "BN09ZZZ51A"
    bn06_zzz1_a = "BN06ZZZ1A"
    bn04_zzz1_a = "BN04ZZZ1A"
    bn0_pzzzfz = "BN0PZZZFZ"
    bn0_pzzzdz = "BN0PZZZDZ"
    bn0_nzzzgz = "BN0NZZZGZ"
    bn0_nzzzhz = "BN0NZZZHZ"
    bn0_nzzzcz = "BN0NZZZCZ"
    bn0_qzzz00 = "BN0QZZZ00"
    bn0_qzzz1_a = "BN0QZZZ1A"
    bn25_zuzzz = "BN25ZUZZZ"
    bn26_zuzzz = "BN26ZUZZZ"
    bn2_jzuzzz = "BN2JZUZZZ"
    bn2_lzyzzz = "BN2LZYZZZ"
    bn2_l10_zzz = "BN2L10ZZZ"
    bn23_zyzzz = "BN23ZYZZZ"
    bn2310_zzz = "BN2310ZZZ"
    bn2_fzuzzz = "BN2FZUZZZ"
    bp2_pzuzzz = "BP2PZUZZZ"
    bp2_p10_zzz = "BP2P10ZZZ"
    bp2_mzuzzz = "BP2MZUZZZ"
    bp2_m10_zzz = "BP2M10ZZZ"
    bp2_hzuzzz = "BP2HZUZZZ"
    bp2_h10_zzz = "BP2H10ZZZ"
    bp29_zuzzz = "BP29ZUZZZ"
    bp2910_zzz = "BP2910ZZZ"
    bp2_j10_zzz = "BP2J10ZZZ"
    bp2_e10_zzz = "BP2E10ZZZ"
    bp2_k10_zzz = "BP2K10ZZZ"
    bp2_f10_zzz = "BP2F10ZZZ"
    bp2_jzuzzz = "BP2JZUZZZ"
    bp2_ezuzzz = "BP2EZUZZZ"
    bp2_kzuzzz = "BP2KZUZZZ"
    bp2_fzuzzz = "BP2FZUZZZ"
    bp3_nzyzzz = "BP3NZYZZZ"
    bp3_n50_zzz = "BP3N50ZZZ"
    bp3_lzyzzz = "BP3LZYZZZ"
    bp3_l50_zzz = "BP3L50ZZZ"
    bp3_gzyzzz = "BP3GZYZZZ"
    bp3_g50_zzz = "BP3G50ZZZ"
    bp38_zyzzz = "BP38ZYZZZ"
    bp3850_zzz = "BP3850ZZZ"
    bp3_jzyzzz = "BP3JZYZZZ"
    bp3_j50_zzz = "BP3J50ZZZ"
    bp3_ezyzzz = "BP3EZYZZZ"
    bp3_e50_zzz = "BP3E50ZZZ"
    bp3_pzyzzz = "BP3PZYZZZ"
    bp3_p50_zzz = "BP3P50ZZZ"
    bp3_mzyzzz = "BP3MZYZZZ"
    bp3_m50_zzz = "BP3M50ZZZ"
    bp3_hzyzzz = "BP3HZYZZZ"
    bp3_h50_zzz = "BP3H50ZZZ"
    bp39_zyzzz = "BP39ZYZZZ"
    bp3950_zzz = "BP3950ZZZ"
    bp3_kzyzzz = "BP3KZYZZZ"
    bp3_k50_zzz = "BP3K50ZZZ"
    br00_zzzz0 = "BR00ZZZZ0"
    br00_zzzz2_z = "BR00ZZZZ2Z"
    br00_zzzz5_z = "BR00ZZZZ5Z"
    br00_zzzz4_z = "BR00ZZZZ4Z"
    br00_zzzzp2 = "BR00ZZZZP2"
    br00_zzzzq2 = "BR00ZZZZQ2"
    br0_lzzzr0 = "BR0LZZZR0"
    br07_zzzz0 = "BR07ZZZZ0"
    br07_zzz2_z = "BR07ZZZ2Z"
    br09_zzzz0 = "BR09ZZZZ0"
    br09_zzz2_z = "BR09ZZZ2Z"
    br09_zzz5_z = "BR09ZZZ5Z"
    br09_zzz6_z = "BR09ZZZ6Z"
    br0_fzzzz0 = "BR0FZZZZ0"
    br0_fzzz0_z = "BR0FZZZ0Z"
    br0_dzzz00 = "BR0DZZZ00"
    br0_dzzz06 = "BR0DZZZ06"
    br0_czzzz0 = "BR0CZZZZ0"
    br0_hzzz17 = "BR0HZZZ17"
    br0_hzzz2_z = "BR0HZZZ2Z"
    br20_zyzzz = "BR20ZYZZZ"
    br21_zyzzz = "BR21ZYZZZ"
    br27_zyzzz = "BR27ZYZZZ"
    br22_zyzzz = "BR22ZYZZZ"
    br29_zyzzz = "BR29ZYZZZ"
    br23_zyzzz = "BR23ZYZZZ"
    br2_fzyzzz = "BR2FZYZZZ"
    br2_czuzzz = "BR2CZUZZZ"
    br2_czyzzz = "BR2CZYZZZ"
    br2_dzyzzz = "BR2DZYZZZ"
    br30_zyzzz = "BR30ZYZZZ"
    br31_zyzzz = "BR31ZYZZZ"
    br37_zyzzz = "BR37ZYZZZ"
    br32_zyzzz = "BR32ZYZZZ"
    br39_zyzzz = "BR39ZYZZZ"
    br33_zyzzz = "BR33ZYZZZ"
    br3_fzyzzz = "BR3FZYZZZ"
    br3_dzyzzz = "BR3DZYZZZ"
    b029_zyzzz = "B029ZYZZZ"
    b02_c10_zzz = "B02C10ZZZ"
    b039_zyzzz = "B039ZYZZZ"
    b03_c50_zzz = "B03C50ZZZ"
    b03_bzyzzz = "B03BZYZZZ"
    b030_zhzzz = "B030ZHZZZ"
    b206_zzz4_z = "B206ZZZ4Z"
    b206_zzzz7 = "B206ZZZZ7"
    b8020_zzzz = "B8020ZZZZ"
    b835_zyzzz = "B835ZYZZZ"
    b83550_zzz = "B83550ZZZ"
    b836_zyzzz = "B836ZYZZZ"
    b83650_zzz = "B83650ZZZ"
    b837_zyzzz = "B837ZYZZZ"
    b83750_zzz = "B83750ZZZ"
    b902_azzzz = "B902AZZZZ"
    b902_bzzzz = "B902BZZZZ"
    b902_zzz1_z = "B902ZZZ1Z"
    b922_zyzzz = "B922ZYZZZ"
    b92210_zzz = "B92210ZZZ"
    b92_bzyzzz = "B92BZYZZZ"
    b92_b10_zzz = "B92B10ZZZ"
    b92_fzyzzz = "B92FZYZZZ"
    b92_f10_zzz = "B92F10ZZZ"
    b92_jzyzzz = "B92JZYZZZ"
    b92_j10_zzz = "B92J10ZZZ"
    b930_zyzzz = "B930ZYZZZ"
    b93050_zzz = "B93050ZZZ"
    b93_fzyzzz = "B93FZYZZZ"
    b93_f50_zzz = "B93F50ZZZ"
    b93_jzyzzz = "B93JZYZZZ"
    b93_j50_zzz = "B93J50ZZZ"
    bb04_zzzz1 = "BB04ZZZZ1"
    bb04_zzzz21 = "BB04ZZZZ21"
    bb0_gzzzz0 = "BB0GZZZZ0"
    bb04_zzzz6 = "BB04ZZZZ6"
    bb04_zzzz7 = "BB04ZZZZ7"
    bb04_zzzz4_z = "BB04ZZZZ4Z"
    bb04_zzzz5_z = "BB04ZZZZ5Z"
    bb04_zzzzsz = "BB04ZZZZSZ"
    bb24_zyzzz = "BB24ZYZZZ"
    bb2410_zzz = "BB2410ZZZ"
    bb24_zbzzz = "BB24ZBZZZ"
    bb3_czyzzz = "BB3CZYZZZ"
    bb3_c50_zzz = "BB3C50ZZZ"
    bd013_zzzz = "BD013ZZZZ"
    bn39_zyzzz = "BN39ZYZZZ"
    bp02_zzz01 = "BP02ZZZ01"
    bp02_zzz07 = "BP02ZZZ07"
    bp03_zzz11 = "BP03ZZZ11"
    bp07_zzz80 = "BP07ZZZ80"
    bp06_zzz80 = "BP06ZZZ80"
    bp07_zzzza = "BP07ZZZZA"
    bp06_zzzza = "BP06ZZZZA"
    bp08_zzz80 = "BP08ZZZ80"
    bp08_zzz02 = "BP08ZZZ02"
    bp08_zzzzd = "BP08ZZZZD"
    bp08_zzzvz = "BP08ZZZVZ"
    bp09_zzz80 = "BP09ZZZ80"
    bp09_zzz02 = "BP09ZZZ02"
    bp09_zzzd = "BP09ZZZD"
    bp09_zzzvz = "BP09ZZZVZ"
    bp0_azzz80 = "BP0AZZZ80"
    bp0_azzz8_a = "BP0AZZZ8A"
    bp0_bzzz80 = "BP0BZZZ80"
    bp0_bzzz8_a = "BP0BZZZ8A"
    bp0_gzzzz0 = "BP0GZZZZ0"
    bp0_gzzzza = "BP0GZZZZA"
    bp0_gzzzz2 = "BP0GZZZZ2"
    bp0_hzzzz0 = "BP0HZZZZ0"
    bp0_hzzzza = "BP0HZZZZA"
    bp0_hzzzz2 = "BP0HZZZZ2"
    bp0_jzzzz0 = "BP0JZZZZ0"
    bp0_jzzzza = "BP0JZZZZA"
    bp0_kzzzz0 = "BP0KZZZZ0"
    bp0_kzzzza = "BP0KZZZZA"
    bp0_lzzzz1 = "BP0LZZZZ1"
    bp0_lzzzza = "BP0LZZZZA"
    bp0_lzzzz7 = "BP0LZZZZ7"
    bp0_lzzzz2 = "BP0LZZZZ2"
    bp0_lzzzm1 = "BP0LZZZM1"
    bp0_kzzzz1 = "BP0KZZZZ1"
    bp0_kzzzz7 = "BP0KZZZZ7"
    bp3_fzyzzz = "BP3FZYZZZ"
    bp3_f50_zzz = "BP3F50ZZZ"
    bq02_zzz00 = "BQ02ZZZ00"
    bq02_zzzt0 = "BQ02ZZZT0"
    bq00_zzzza = "BQ00ZZZZA"
    bq01_zzzza = "BQ01ZZZZA"
    bq03_zz800 = "BQ03ZZ800"
    bq03_zz900 = "BQ03ZZ900"
    bq03_zzzzb = "BQ03ZZZZB"
    bq04_zz800 = "BQ04ZZ800"
    bq04_zz900 = "BQ04ZZ900"
    bq04_zzzzb = "BQ04ZZZZB"
    bq07_zzz00 = "BQ07ZZZ00"
    bq07_zzzza = "BQ07ZZZZA"
    bq0_vzzz11 = "BQ0VZZZ11"
    bq0_vzzzza = "BQ0VZZZZA"
    bq0_vzzzz2 = "BQ0VZZZZ2"
    bq08_zzz00 = "BQ08ZZZ00"
    bq08_zzza = "BQ08ZZZA"
    bq0_wzzz11 = "BQ0WZZZ11"
    bq0_wzzzza = "BQ0WZZZZA"
    bq0_wzzzz2 = "BQ0WZZZZ2"
    bq0_bzzz00 = "BQ0BZZZ00"
    bq0_bzzzza = "BQ0BZZZZA"
    bq0_czzz00 = "BQ0CZZZ00"
    bq0_czzzza = "BQ0CZZZZA"
    bq0_gzzz00 = "BQ0GZZZ00"
    bq0_gzzzza = "BQ0GZZZZA"
    bq0_hzzz00 = "BQ0HZZZ00"
    bq0_hzzzza = "BQ0HZZZZA"
    bq0_jzzzz2 = "BQ0JZZZZ2"
    bq0_jzzzza = "BQ0JZZZZA"
    bq0_kzzzz2 = "BQ0KZZZZ2"
    bq0_kzzzza = "BQ0KZZZZA"
    bq0_lzzzz0 = "BQ0LZZZZ0"
    bq0_lzzzn0 = "BQ0LZZZN0"
    bq0_lzzzk0 = "BQ0LZZZK0"
    bq0_lzzzza = "BQ0LZZZZA"
    bt00_zzzz = "BT00ZZZZ"
    bt05_zzzz = "BT05ZZZZ"
    bt23_zyzzz = "BT23ZYZZZ"
    bt2310_zzz = "BT2310ZZZ"
    bt28_zyzzz = "BT28ZYZZZ"
    bt2810_zzz = "BT2810ZZZ"
    bt20_zyzzz = "BT20ZYZZZ"
    bt2010_zzz = "BT2010ZZZ"
    bt33_zyzzz = "BT33ZYZZZ"
    bt3350_zzz = "BT3350ZZZ"
    bt39_zyzzz = "BT39ZYZZZ"
    bt39_zhzzz = "BT39ZHZZZ"
    bu080_zzzz = "BU080ZZZZ"
    bu090_zzzz = "BU090ZZZZ"
    bu3_dzyzzz = "BU3DZYZZZ"
    bu3_d50_zzz = "BU3D50ZZZ"
    bv29_zyzzz = "BV29ZYZZZ"
    bv2910_zzz = "BV2910ZZZ"
    bv39_zyzzz = "BV39ZYZZZ"
    bv3950_zzz = "BV3950ZZZ"
    bw00_zzz00 = "BW00ZZZ00"
    bw00_zzz80 = "BW00ZZZ80"
    bw00_zzz20 = "BW00ZZZ20"
    bw0_qzzz90 = "BW0QZZZ90"
    bw2_gzyzzz = "BW2GZYZZZ"
    bw2_g10_zzz = "BW2G10ZZZ"
    bw2_hzyzzz = "BW2HZYZZZ"
    bw2_h10_zzz = "BW2H10ZZZ"
    bw25_zyzzz = "BW25ZYZZZ"
    bw2510_zzz = "BW2510ZZZ"
    bw21_zyzzz = "BW21ZYZZZ"
    bw2110_zzz = "BW2110ZZZ"
    bw23_zyzzz = "BW23ZYZZZ"
    bw2310_zzz = "BW2310ZZZ"
    bw3_gzyzzz = "BW3GZYZZZ"
    bw3_g50_zzz = "BW3G50ZZZ"
    bw3_mzyzzz = "BW3MZYZZZ"
    field_0 = "0"
    field_000000000 = "000000000"


class SetlInfoDTO(BaseModel):
    """
    §2.1 输入 (节点标识: SetlInfoDTO): 结算信息。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    setl_id: Annotated[
        str, Field(alias="setlId", max_length=30, min_length=1, title="结算 ID")
    ]
    """
    如果是自费非医保收费项目，该结算 ID 填写院内结算 ID
    """
    med_list_codg: Annotated[
        str,
        Field(alias="medListCodg", max_length=50, min_length=1, title="医疗目录编码"),
    ]
    feedetl_sn: Annotated[
        str,
        Field(alias="feedetlSn", max_length=30, min_length=1, title="费用明细流水号"),
    ]
    """
    如果是自费非医保收费项目，该费用明细流水号填写院内费用明细流水号
    """
    exam_part: Annotated[ExamPart, Field(alias="examPart", title="检查部位代码")]
    """
    采用《卫生健康信息数据元值域代码第 8 部分：临床辅助检查》数据(WS/T 364.8-2023)中常用放射诊断检查技术编码，由 9 位大写英文字母和阿拉伯数字组成。
    """


class SuccFlag(StrEnum):
    """
    【-1】失败(全部数据失败) 【0】失败(部分数据失败) 【1】成功 (mie: 每条记录整条保存或整条拒绝, 故逐条只答 1 或 -1; 部分失败由报文的 code 3001 表示, 见 ERRATA E-SUCCFLAG)
    """

    field_1 = "-1"
    field_0 = "0"
    field_1_1 = "1"


class ImageTotalNum(RootModel[str]):
    root: Annotated[str, Field(pattern="^[0-9]{1,6}$", title="影像总张数")]
    """
    本次检查的影像总张数
    """


class ImageTotalNum1(RootModel[int]):
    root: Annotated[int, Field(ge=0, le=999999, title="影像总张数")]
    """
    本次检查的影像总张数
    """


class ImgInfo(BaseModel):
    """
    §2.3 原始影像元数据信息 (节点标识: input)。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    hi_img_indx: Annotated[
        str,
        Field(
            alias="hiImgIndx",
            examples=[
                "111-110101197804050038-20241122143000-0000000000000-000000000-123502004266007980"
            ],
            max_length=100,
            pattern="^(?:[0-9A-Z]{1,6})-(?:[0-9A-Z]{1,34})-(?:[0-9]{14})-(?:0|[0-9A-Z]{13})-(?:0|[0-9A-Z]{9})(?:-(?:[0-9A-Z]{18}))?$",
            title="医保影像云索引编码",
        ),
    ]
    """
    由国家局制定编码规则，医疗机构及检查检验机构编制索引号，实现每个影像检查结果的索引全国唯一。
    """
    study_uid: Annotated[
        str,
        Field(
            alias="studyUid",
            max_length=64,
            min_length=1,
            pattern="^(?:0|[1-9][0-9]*)(?:\\.(?:0|[1-9][0-9]*))*$",
            title="检查唯一标识",
        ),
    ]
    """
    Study 唯一号，影像检查的唯一标识 Tag=0020,000d,多份报告合并检查，传入实际关联图像 Study 唯一号
    """
    accession_number: Annotated[
        str,
        Field(
            alias="accessionNumber", max_length=256, min_length=1, title="影像关联编号"
        ),
    ]
    """
    影像关联编号，与影像 Study 的 AccessionNumber 一致，用于关联影像 Study。如果对应多个影像，用英文逗号隔开。
    """
    image_total_num: Annotated[
        ImageTotalNum | ImageTotalNum1, Field(alias="imageTotalNum", title="影像总张数")
    ]
    """
    本次检查的影像总张数
    """


class DeleteExamRpotImgIdxItem(BaseModel):
    """
    §2.5 输入 (节点标识: input) 的对象写法; 文档示例直接给出索引字符串数组, 两种都接受。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    hi_img_indx: Annotated[
        str,
        Field(
            alias="hiImgIndx",
            examples=[
                "111-110101197804050038-20241122143000-0000000000000-000000000-123502004266007980"
            ],
            max_length=100,
            pattern="^(?:[0-9A-Z]{1,6})-(?:[0-9A-Z]{1,34})-(?:[0-9]{14})-(?:0|[0-9A-Z]{13})-(?:0|[0-9A-Z]{9})(?:-(?:[0-9A-Z]{18}))?$",
            title="医保影像云索引编码",
        ),
    ]
    """
    由国家局制定编码规则，医疗机构及检查检验机构编制索引号，实现每个影像检查结果的索引全国唯一。
    """


class PsnCertType1(StrEnum):
    """
    采用《公安信息代码 第156 部分：常用证件代码》（GA/T 2000.156—2016）中常用证件代码
    """

    field_111 = "111"
    field_112 = "112"
    field_113 = "113"
    field_114 = "114"
    field_115 = "115"
    field_117 = "117"
    field_118 = "118"
    field_119 = "119"
    field_120 = "120"
    field_121 = "121"
    field_122 = "122"
    field_123 = "123"
    field_125 = "125"
    field_127 = "127"
    field_131 = "131"
    field_133 = "133"
    field_154 = "154"
    field_211 = "211"
    field_213 = "213"
    field_217 = "217"
    field_219 = "219"
    field_221 = "221"
    field_223 = "223"
    field_225 = "225"
    field_227 = "227"
    field_229 = "229"
    field_231 = "231"
    field_411 = "411"
    field_412 = "412"
    field_413 = "413"
    field_414 = "414"
    field_415 = "415"
    field_417 = "417"
    field_418 = "418"
    field_419 = "419"
    field_420 = "420"
    field_421 = "421"
    field_511 = "511"
    field_513 = "513"
    field_515 = "515"
    field_516 = "516"
    field_517 = "517"
    field_518 = "518"
    field_552 = "552"
    field_553 = "553"
    field_554 = "554"
    field_555 = "555"
    field_556 = "556"
    field_557 = "557"
    field_558 = "558"
    field_791 = "791"
    field_792 = "792"
    field_990 = "990"


class QueryExamRpotImgIndxListInput(BaseModel):
    """
    §2.6 输入 (节点标识: input): 参保人信息。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    psn_name: Annotated[
        str | None, Field(alias="psnName", max_length=50, title="人员姓名")
    ] = None
    psn_cert_type: Annotated[
        PsnCertType1, Field(alias="psnCertType", title="人员证件类型")
    ]
    """
    采用《公安信息代码 第156 部分：常用证件代码》（GA/T 2000.156—2016）中常用证件代码
    """
    certno: Annotated[str, Field(max_length=600, min_length=1, title="证件号码")]
    begntime: Annotated[
        str | None,
        Field(
            pattern="^$|^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$",
            title="检查开始时间",
        ),
    ] = None
    """
    yyyy-MM-dd
    """
    endtime: Annotated[
        str | None,
        Field(
            pattern="^$|^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$",
            title="检查结束时间",
        ),
    ] = None
    """
    yyyy-MM-dd
    """


class ResDTO(BaseModel):
    """
    §2.6 输出 (节点标识: ResDTO)。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    hi_img_indx: Annotated[
        str, Field(alias="hiImgIndx", max_length=100, title="医保影像云索引号")
    ]
    """
    由国家局制定编码规则，医疗机构及检查检验机构编制并上传索引号，实现每个影像检查结果的索引全国唯一。
    """
    psn_name: Annotated[str, Field(alias="psnName", max_length=50, title="人员姓名")]
    psn_cert_type: Annotated[
        PsnCertType1, Field(alias="psnCertType", title="人员证件类型")
    ]
    """
    采用《公安信息代码 第156 部分：常用证件代码》（GA/T 2000.156—2016）中常用证件代码
    """
    certno: Annotated[str, Field(max_length=50, title="证件号码")]
    """
    应答中按文档示例掩码 (如 110101*****0041)。
    """
    fixmedins_code: Annotated[
        str, Field(alias="fixmedinsCode", max_length=30, title="定点医药机构代码")
    ]
    fixmedins_name: Annotated[
        str, Field(alias="fixmedinsName", max_length=255, title="定点医药机构名称")
    ]
    exam_date: Annotated[
        str,
        Field(
            alias="examDate",
            pattern="^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$",
            title="检查日期",
        ),
    ]
    """
    yyyy-MM-dd
    """
    exam_part: Annotated[
        str,
        Field(
            alias="examPart",
            max_length=500,
            pattern="^(?:BB04ZZZZ21|BB04ZZZZ4Z|BB04ZZZZ5Z|BB04ZZZZSZ|BN09ZZZ51A|BR00ZZZZ2Z|BR00ZZZZ4Z|BR00ZZZZ5Z|BR00ZZZZP2|BR00ZZZZQ2|000000000|B02010ZZZ|B020ZYZZZ|B02910ZZZ|B029ZYZZZ|B02C10ZZZ|B02CZYZZZ|B03050ZZZ|B0305FZZZ|B030ZGZZZ|B030ZHZZZ|B030ZJZZZ|B030ZYZZZ|B03950ZZZ|B039ZYZZZ|B03BZYZZZ|B03C50ZZZ|B03CZYZZZ|B03D50ZZZ|B03DZYZZZ|B2063ZZ5Z|B206ZZZ4Z|B206ZZZZ1|B206ZZZZ6|B206ZZZZ7|B2211WZZZ|B2261XZZZ|B226ZYZZZ|B2365WZZZ|B2365XZZZ|B236ZYZZZ|B3201WZZZ|B3251WZZZ|B32G1WZZZ|B32H1WZZZ|B32J1WZZZ|B32P1WZZZ|B32R1WZZZ|B32W1WZZZ|B3305WZZZ|B330ZWZZZ|B3355WZZZ|B335ZWZZZ|B33G5WZZZ|B33GZWZZZ|B33H5WZZZ|B33HZWZZZ|B33J5WZZZ|B33JZWZZZ|B33P5WZZZ|B33PZWZZZ|B33R5WZZZ|B33RZWZZZ|B33W5WZZZ|B33WZWZZZ|B4201WZZZ|B4211WZZZ|B4221WZZZ|B4231WZZZ|B4241WZZZ|B4251WZZZ|B4281WZZZ|B42H1WZZZ|B42M1WZZZ|B42P1WZZZ|B4305WZZZ|B430ZWZZZ|B4315WZZZ|B431ZWZZZ|B4325WZZZ|B432ZWZZZ|B4335WZZZ|B433ZWZZZ|B4345WZZZ|B434ZWZZZ|B4355WZZZ|B435ZWZZZ|B4385WZZZ|B438ZWZZZ|B43H5WZZZ|B43HZWZZZ|B43M5WZZZ|B43MZWZZZ|B43P5WZZZ|B43PZWZZZ|B52T1WZZZ|B532ZWZZZ|B533ZWZZZ|B534ZWZZZ|B535ZWZZZ|B536ZWZZZ|B5375WZZZ|B537ZWZZZ|B538ZWZZZ|B539ZWZZZ|B53HZWZZZ|B8020ZZZZ|B83550ZZZ|B835ZYZZZ|B83650ZZZ|B836ZYZZZ|B83750ZZZ|B837ZYZZZ|B902AZZZZ|B902BZZZZ|B902ZZZ1Z|B92210ZZZ|B922ZYZZZ|B92B10ZZZ|B92BZYZZZ|B92F10ZZZ|B92FZYZZZ|B92J10ZZZ|B92JZYZZZ|B93050ZZZ|B930ZYZZZ|B93F50ZZZ|B93FZYZZZ|B93J50ZZZ|B93JZYZZZ|BB04ZZZZ1|BB04ZZZZ6|BB04ZZZZ7|BB0GZZZZ0|BB2410ZZZ|BB24ZBZZZ|BB24ZYZZZ|BB3C50ZZZ|BB3CZYZZZ|BD013ZZZZ|BD033Z2ZZ|BD033Z3ZZ|BD033ZZZZ|BD0433ZZZ|BD043Z4ZZ|BD053ZZZZ|BD0C3ZZZZ|BD2210ZZZ|BD22ZYZZZ|BD2310ZZZ|BD23ZYZZZ|BD241YZZZ|BD24ZYZZZ|BD2910ZZZ|BD29ZYZZZ|BD2C1YZZZ|BD2CZYZZZ|BF000ZPZZ|BF000ZRZZ|BF00QZQZZ|BF221YZZZ|BF22ZYZZZ|BF251YZZZ|BF25ZYZZZ|BF261YZZZ|BF26ZYZZZ|BF271YZZZ|BF27ZYZZZ|BF3550ZZZ|BF35ZYZZZ|BF3750ZZZ|BF37ZYZZZ|BG201YZZZ|BG20ZYZZZ|BG241YZZZ|BG24ZYZZZ|BH000ZFZG|BH00ZZZZG|BH010ZFZG|BH01ZZZZG|BH020ZFZG|BH02ZZZZG|BH325AZZZ|BH32ZYZZZ|BN00ZZZ03|BN00ZZZ11|BN00ZZZ1A|BN03ZZZ11|BN03ZZZ1A|BN04ZZZ1A|BN06ZZZ1A|BN0LZZZ03|BN0LZZZ11|BN0LZZZ1A|BN0MZZZ02|BN0NZZZCZ|BN0NZZZGZ|BN0NZZZHZ|BN0PZZZDZ|BN0PZZZFZ|BN0QZZZ00|BN0QZZZ1A|BN2310ZZZ|BN23ZYZZZ|BN25ZUZZZ|BN26ZUZZZ|BN2FZUZZZ|BN2JZUZZZ|BN2L10ZZZ|BN2LZYZZZ|BN39ZYZZZ|BP02ZZZ01|BP02ZZZ07|BP03ZZZ11|BP06ZZZ80|BP06ZZZZA|BP07ZZZ80|BP07ZZZZA|BP08ZZZ02|BP08ZZZ80|BP08ZZZVZ|BP08ZZZZD|BP09ZZZ02|BP09ZZZ80|BP09ZZZVZ|BP0AZZZ80|BP0AZZZ8A|BP0BZZZ80|BP0BZZZ8A|BP0GZZZZ0|BP0GZZZZ2|BP0GZZZZA|BP0HZZZZ0|BP0HZZZZ2|BP0HZZZZA|BP0JZZZZ0|BP0JZZZZA|BP0KZZZM1|BP0KZZZZ0|BP0KZZZZ1|BP0KZZZZ2|BP0KZZZZ7|BP0KZZZZA|BP0LZZZM1|BP0LZZZZ1|BP0LZZZZ2|BP0LZZZZ7|BP0LZZZZA|BP0NZZZZ1|BP0NZZZZ6|BP0NZZZZ7|BP0NZZZZA|BP0PZZZZ1|BP0PZZZZ6|BP0PZZZZ7|BP0PZZZZA|BP0WZZZ80|BP0WZZZ81|BP0WZZZ86|BP0XZZC80|BP0XZZC81|BP0XZZC86|BP0XZZC87|BP0XZZD80|BP0XZZD81|BP0XZZD86|BP0XZZD87|BP0YZZC80|BP0YZZC81|BP0YZZC86|BP0YZZC87|BP0YZZD80|BP0YZZD81|BP0YZZD86|BP0YZZD87|BP2810ZZZ|BP28ZUZZZ|BP2910ZZZ|BP29ZUZZZ|BP2E10ZZZ|BP2EZUZZZ|BP2F10ZZZ|BP2FZUZZZ|BP2G10ZZZ|BP2GZUZZZ|BP2H10ZZZ|BP2HZUZZZ|BP2J10ZZZ|BP2JZUZZZ|BP2K10ZZZ|BP2KZUZZZ|BP2L10ZZZ|BP2LZUZZZ|BP2M10ZZZ|BP2MZUZZZ|BP2N10ZZZ|BP2NZUZZZ|BP2P10ZZZ|BP2PZUZZZ|BP3850ZZZ|BP38ZYZZZ|BP3950ZZZ|BP39ZYZZZ|BP3E50ZZZ|BP3EZYZZZ|BP3F50ZZZ|BP3FZYZZZ|BP3G50ZZZ|BP3GZYZZZ|BP3H50ZZZ|BP3HZYZZZ|BP3J50ZZZ|BP3JZYZZZ|BP3K50ZZZ|BP3KZYZZZ|BP3L50ZZZ|BP3LZYZZZ|BP3M50ZZZ|BP3MZYZZZ|BP3N50ZZZ|BP3NZYZZZ|BP3P50ZZZ|BP3PZYZZZ|BQ00ZZZZA|BQ01ZZZZA|BQ02ZZZ00|BQ02ZZZT0|BQ03ZZ800|BQ03ZZ900|BQ03ZZZZB|BQ04ZZ800|BQ04ZZ900|BQ04ZZZZB|BQ07ZZZ00|BQ07ZZZZA|BQ08ZZZ00|BQ0BZZZ00|BQ0BZZZZA|BQ0CZZZ00|BQ0CZZZZA|BQ0GZZZ00|BQ0GZZZZA|BQ0HZZZ00|BQ0HZZZZA|BQ0JZZZZ2|BQ0JZZZZA|BQ0KZZZZ2|BQ0KZZZZA|BQ0LZZGZA|BQ0LZZZK0|BQ0LZZZN0|BQ0LZZZZ0|BQ0LZZZZA|BQ0MZZGZA|BQ0MZZZK0|BQ0MZZZN0|BQ0MZZZZ0|BQ0MZZZZA|BQ0VZZZ11|BQ0VZZZZ2|BQ0VZZZZA|BQ0WZZZ11|BQ0WZZZZ2|BQ0WZZZZA|BQ2010ZZZ|BQ20ZUZZZ|BQ2110ZZZ|BQ21ZUZZZ|BQ2710ZZZ|BQ27ZUZZZ|BQ2810ZZZ|BQ28ZUZZZ|BQ2D10ZZZ|BQ2DZUZZZ|BQ2FZUZZZ|BQ2X10ZZZ|BQ2XZUZZZ|BQ2Y10ZZZ|BQ2YZUZZZ|BQ3050ZZZ|BQ30ZYZZZ|BQ3150ZZZ|BQ31ZYZZZ|BQ3750ZZZ|BQ37ZYZZZ|BQ3850ZZZ|BQ38ZYZZZ|BQ3D50ZZZ|BQ3DZYZZZ|BQ3F50ZZZ|BQ3FZYZZZ|BQ3X50ZZZ|BQ3XZYZZZ|BQ3Y50ZZZ|BQ3YZYZZZ|BR00ZZZZ0|BR07ZZZ2Z|BR07ZZZZ0|BR09ZZZ2Z|BR09ZZZ5Z|BR09ZZZ6Z|BR09ZZZZ0|BR0CZZZZ0|BR0DZZZ00|BR0DZZZ06|BR0FZZZ0Z|BR0FZZZZ0|BR0HZZZ17|BR0HZZZ2Z|BR0LZZZR0|BR20ZYZZZ|BR21ZYZZZ|BR22ZYZZZ|BR23ZYZZZ|BR27ZYZZZ|BR29ZYZZZ|BR2CZUZZZ|BR2CZYZZZ|BR2DZYZZZ|BR2FZYZZZ|BR30ZYZZZ|BR31ZYZZZ|BR32ZYZZZ|BR33ZYZZZ|BR37ZYZZZ|BR39ZYZZZ|BR3DZYZZZ|BR3FZYZZZ|BT2010ZZZ|BT20ZYZZZ|BT2310ZZZ|BT23ZYZZZ|BT2810ZZZ|BT28ZYZZZ|BT3350ZZZ|BT33ZYZZZ|BT39ZHZZZ|BT39ZYZZZ|BU080ZZZZ|BU090ZZZZ|BU3D50ZZZ|BU3DZYZZZ|BV2910ZZZ|BV29ZYZZZ|BV3950ZZZ|BV39ZYZZZ|BW00ZZZ00|BW00ZZZ20|BW00ZZZ80|BW0QZZZ90|BW2110ZZZ|BW21ZYZZZ|BW2310ZZZ|BW23ZYZZZ|BW2510ZZZ|BW25ZYZZZ|BW2G10ZZZ|BW2GZYZZZ|BW2H10ZZZ|BW2HZYZZZ|BW3350ZZZ|BW33ZYZZZ|BW3G50ZZZ|BW3GZYZZZ|BW3MZYZZZ|B50B0ZZZ|B50C0ZZZ|B50D0ZZZ|BG350ZZZ|BG3ZYZZZ|BP09ZZZD|BP0WZZ87|BQ08ZZZA|BT00ZZZZ|BT05ZZZZ|B531Z|BF34|BD0|BF2|0)(?:[ ,](?:BB04ZZZZ21|BB04ZZZZ4Z|BB04ZZZZ5Z|BB04ZZZZSZ|BN09ZZZ51A|BR00ZZZZ2Z|BR00ZZZZ4Z|BR00ZZZZ5Z|BR00ZZZZP2|BR00ZZZZQ2|000000000|B02010ZZZ|B020ZYZZZ|B02910ZZZ|B029ZYZZZ|B02C10ZZZ|B02CZYZZZ|B03050ZZZ|B0305FZZZ|B030ZGZZZ|B030ZHZZZ|B030ZJZZZ|B030ZYZZZ|B03950ZZZ|B039ZYZZZ|B03BZYZZZ|B03C50ZZZ|B03CZYZZZ|B03D50ZZZ|B03DZYZZZ|B2063ZZ5Z|B206ZZZ4Z|B206ZZZZ1|B206ZZZZ6|B206ZZZZ7|B2211WZZZ|B2261XZZZ|B226ZYZZZ|B2365WZZZ|B2365XZZZ|B236ZYZZZ|B3201WZZZ|B3251WZZZ|B32G1WZZZ|B32H1WZZZ|B32J1WZZZ|B32P1WZZZ|B32R1WZZZ|B32W1WZZZ|B3305WZZZ|B330ZWZZZ|B3355WZZZ|B335ZWZZZ|B33G5WZZZ|B33GZWZZZ|B33H5WZZZ|B33HZWZZZ|B33J5WZZZ|B33JZWZZZ|B33P5WZZZ|B33PZWZZZ|B33R5WZZZ|B33RZWZZZ|B33W5WZZZ|B33WZWZZZ|B4201WZZZ|B4211WZZZ|B4221WZZZ|B4231WZZZ|B4241WZZZ|B4251WZZZ|B4281WZZZ|B42H1WZZZ|B42M1WZZZ|B42P1WZZZ|B4305WZZZ|B430ZWZZZ|B4315WZZZ|B431ZWZZZ|B4325WZZZ|B432ZWZZZ|B4335WZZZ|B433ZWZZZ|B4345WZZZ|B434ZWZZZ|B4355WZZZ|B435ZWZZZ|B4385WZZZ|B438ZWZZZ|B43H5WZZZ|B43HZWZZZ|B43M5WZZZ|B43MZWZZZ|B43P5WZZZ|B43PZWZZZ|B52T1WZZZ|B532ZWZZZ|B533ZWZZZ|B534ZWZZZ|B535ZWZZZ|B536ZWZZZ|B5375WZZZ|B537ZWZZZ|B538ZWZZZ|B539ZWZZZ|B53HZWZZZ|B8020ZZZZ|B83550ZZZ|B835ZYZZZ|B83650ZZZ|B836ZYZZZ|B83750ZZZ|B837ZYZZZ|B902AZZZZ|B902BZZZZ|B902ZZZ1Z|B92210ZZZ|B922ZYZZZ|B92B10ZZZ|B92BZYZZZ|B92F10ZZZ|B92FZYZZZ|B92J10ZZZ|B92JZYZZZ|B93050ZZZ|B930ZYZZZ|B93F50ZZZ|B93FZYZZZ|B93J50ZZZ|B93JZYZZZ|BB04ZZZZ1|BB04ZZZZ6|BB04ZZZZ7|BB0GZZZZ0|BB2410ZZZ|BB24ZBZZZ|BB24ZYZZZ|BB3C50ZZZ|BB3CZYZZZ|BD013ZZZZ|BD033Z2ZZ|BD033Z3ZZ|BD033ZZZZ|BD0433ZZZ|BD043Z4ZZ|BD053ZZZZ|BD0C3ZZZZ|BD2210ZZZ|BD22ZYZZZ|BD2310ZZZ|BD23ZYZZZ|BD241YZZZ|BD24ZYZZZ|BD2910ZZZ|BD29ZYZZZ|BD2C1YZZZ|BD2CZYZZZ|BF000ZPZZ|BF000ZRZZ|BF00QZQZZ|BF221YZZZ|BF22ZYZZZ|BF251YZZZ|BF25ZYZZZ|BF261YZZZ|BF26ZYZZZ|BF271YZZZ|BF27ZYZZZ|BF3550ZZZ|BF35ZYZZZ|BF3750ZZZ|BF37ZYZZZ|BG201YZZZ|BG20ZYZZZ|BG241YZZZ|BG24ZYZZZ|BH000ZFZG|BH00ZZZZG|BH010ZFZG|BH01ZZZZG|BH020ZFZG|BH02ZZZZG|BH325AZZZ|BH32ZYZZZ|BN00ZZZ03|BN00ZZZ11|BN00ZZZ1A|BN03ZZZ11|BN03ZZZ1A|BN04ZZZ1A|BN06ZZZ1A|BN0LZZZ03|BN0LZZZ11|BN0LZZZ1A|BN0MZZZ02|BN0NZZZCZ|BN0NZZZGZ|BN0NZZZHZ|BN0PZZZDZ|BN0PZZZFZ|BN0QZZZ00|BN0QZZZ1A|BN2310ZZZ|BN23ZYZZZ|BN25ZUZZZ|BN26ZUZZZ|BN2FZUZZZ|BN2JZUZZZ|BN2L10ZZZ|BN2LZYZZZ|BN39ZYZZZ|BP02ZZZ01|BP02ZZZ07|BP03ZZZ11|BP06ZZZ80|BP06ZZZZA|BP07ZZZ80|BP07ZZZZA|BP08ZZZ02|BP08ZZZ80|BP08ZZZVZ|BP08ZZZZD|BP09ZZZ02|BP09ZZZ80|BP09ZZZVZ|BP0AZZZ80|BP0AZZZ8A|BP0BZZZ80|BP0BZZZ8A|BP0GZZZZ0|BP0GZZZZ2|BP0GZZZZA|BP0HZZZZ0|BP0HZZZZ2|BP0HZZZZA|BP0JZZZZ0|BP0JZZZZA|BP0KZZZM1|BP0KZZZZ0|BP0KZZZZ1|BP0KZZZZ2|BP0KZZZZ7|BP0KZZZZA|BP0LZZZM1|BP0LZZZZ1|BP0LZZZZ2|BP0LZZZZ7|BP0LZZZZA|BP0NZZZZ1|BP0NZZZZ6|BP0NZZZZ7|BP0NZZZZA|BP0PZZZZ1|BP0PZZZZ6|BP0PZZZZ7|BP0PZZZZA|BP0WZZZ80|BP0WZZZ81|BP0WZZZ86|BP0XZZC80|BP0XZZC81|BP0XZZC86|BP0XZZC87|BP0XZZD80|BP0XZZD81|BP0XZZD86|BP0XZZD87|BP0YZZC80|BP0YZZC81|BP0YZZC86|BP0YZZC87|BP0YZZD80|BP0YZZD81|BP0YZZD86|BP0YZZD87|BP2810ZZZ|BP28ZUZZZ|BP2910ZZZ|BP29ZUZZZ|BP2E10ZZZ|BP2EZUZZZ|BP2F10ZZZ|BP2FZUZZZ|BP2G10ZZZ|BP2GZUZZZ|BP2H10ZZZ|BP2HZUZZZ|BP2J10ZZZ|BP2JZUZZZ|BP2K10ZZZ|BP2KZUZZZ|BP2L10ZZZ|BP2LZUZZZ|BP2M10ZZZ|BP2MZUZZZ|BP2N10ZZZ|BP2NZUZZZ|BP2P10ZZZ|BP2PZUZZZ|BP3850ZZZ|BP38ZYZZZ|BP3950ZZZ|BP39ZYZZZ|BP3E50ZZZ|BP3EZYZZZ|BP3F50ZZZ|BP3FZYZZZ|BP3G50ZZZ|BP3GZYZZZ|BP3H50ZZZ|BP3HZYZZZ|BP3J50ZZZ|BP3JZYZZZ|BP3K50ZZZ|BP3KZYZZZ|BP3L50ZZZ|BP3LZYZZZ|BP3M50ZZZ|BP3MZYZZZ|BP3N50ZZZ|BP3NZYZZZ|BP3P50ZZZ|BP3PZYZZZ|BQ00ZZZZA|BQ01ZZZZA|BQ02ZZZ00|BQ02ZZZT0|BQ03ZZ800|BQ03ZZ900|BQ03ZZZZB|BQ04ZZ800|BQ04ZZ900|BQ04ZZZZB|BQ07ZZZ00|BQ07ZZZZA|BQ08ZZZ00|BQ0BZZZ00|BQ0BZZZZA|BQ0CZZZ00|BQ0CZZZZA|BQ0GZZZ00|BQ0GZZZZA|BQ0HZZZ00|BQ0HZZZZA|BQ0JZZZZ2|BQ0JZZZZA|BQ0KZZZZ2|BQ0KZZZZA|BQ0LZZGZA|BQ0LZZZK0|BQ0LZZZN0|BQ0LZZZZ0|BQ0LZZZZA|BQ0MZZGZA|BQ0MZZZK0|BQ0MZZZN0|BQ0MZZZZ0|BQ0MZZZZA|BQ0VZZZ11|BQ0VZZZZ2|BQ0VZZZZA|BQ0WZZZ11|BQ0WZZZZ2|BQ0WZZZZA|BQ2010ZZZ|BQ20ZUZZZ|BQ2110ZZZ|BQ21ZUZZZ|BQ2710ZZZ|BQ27ZUZZZ|BQ2810ZZZ|BQ28ZUZZZ|BQ2D10ZZZ|BQ2DZUZZZ|BQ2FZUZZZ|BQ2X10ZZZ|BQ2XZUZZZ|BQ2Y10ZZZ|BQ2YZUZZZ|BQ3050ZZZ|BQ30ZYZZZ|BQ3150ZZZ|BQ31ZYZZZ|BQ3750ZZZ|BQ37ZYZZZ|BQ3850ZZZ|BQ38ZYZZZ|BQ3D50ZZZ|BQ3DZYZZZ|BQ3F50ZZZ|BQ3FZYZZZ|BQ3X50ZZZ|BQ3XZYZZZ|BQ3Y50ZZZ|BQ3YZYZZZ|BR00ZZZZ0|BR07ZZZ2Z|BR07ZZZZ0|BR09ZZZ2Z|BR09ZZZ5Z|BR09ZZZ6Z|BR09ZZZZ0|BR0CZZZZ0|BR0DZZZ00|BR0DZZZ06|BR0FZZZ0Z|BR0FZZZZ0|BR0HZZZ17|BR0HZZZ2Z|BR0LZZZR0|BR20ZYZZZ|BR21ZYZZZ|BR22ZYZZZ|BR23ZYZZZ|BR27ZYZZZ|BR29ZYZZZ|BR2CZUZZZ|BR2CZYZZZ|BR2DZYZZZ|BR2FZYZZZ|BR30ZYZZZ|BR31ZYZZZ|BR32ZYZZZ|BR33ZYZZZ|BR37ZYZZZ|BR39ZYZZZ|BR3DZYZZZ|BR3FZYZZZ|BT2010ZZZ|BT20ZYZZZ|BT2310ZZZ|BT23ZYZZZ|BT2810ZZZ|BT28ZYZZZ|BT3350ZZZ|BT33ZYZZZ|BT39ZHZZZ|BT39ZYZZZ|BU080ZZZZ|BU090ZZZZ|BU3D50ZZZ|BU3DZYZZZ|BV2910ZZZ|BV29ZYZZZ|BV3950ZZZ|BV39ZYZZZ|BW00ZZZ00|BW00ZZZ20|BW00ZZZ80|BW0QZZZ90|BW2110ZZZ|BW21ZYZZZ|BW2310ZZZ|BW23ZYZZZ|BW2510ZZZ|BW25ZYZZZ|BW2G10ZZZ|BW2GZYZZZ|BW2H10ZZZ|BW2HZYZZZ|BW3350ZZZ|BW33ZYZZZ|BW3G50ZZZ|BW3GZYZZZ|BW3MZYZZZ|B50B0ZZZ|B50C0ZZZ|B50D0ZZZ|BG350ZZZ|BG3ZYZZZ|BP09ZZZD|BP0WZZ87|BQ08ZZZA|BT00ZZZZ|BT05ZZZZ|B531Z|BF34|BD0|BF2|0))*$",
            title="检查部位代码",
        ),
    ]
    """
    采用《卫生健康信息数据元值域代码第 8 部分：临床辅助检查》(WS/T 364.8-2023)中常用放射诊断检查技术编码，由 9 位大写英文字母和阿拉伯数字组成。
    """
    exam_rpot_link_url: Annotated[
        str, Field(alias="examRpotLinkUrl", max_length=1000, title="检查报告访问链接")
    ]
    """
    检查报告访问链接，要求在医保专网内使用浏览器即可打开检查报告展示页面
    """
    img_info_link_url: Annotated[
        str, Field(alias="imgInfoLinkUrl", max_length=1000, title="影像资料访问链接")
    ]
    """
    影像资料访问链接，要求在医保专网内使用浏览器即可打开影像资料展示页面
    """
    img_dld_link: Annotated[
        str, Field(alias="imgDldLink", max_length=1000, title="影像图片下载服务地址")
    ]
    """
    (mie: 如索引在省影像云有缓存, 为缓存下载接口 queryImgCaheFIndex 即 §2.7/§2.8 的地址; 文档写作 2.5 和 2.6 接口, 见 ERRATA E-2.6-TEXT)
    """


class FileSnDTO(BaseModel):
    """
    §2.7/§2.8 FileSnDTO: 检查、序列、实例 UID。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    exam_uuid: Annotated[
        str,
        Field(
            alias="examUuid",
            max_length=64,
            min_length=1,
            pattern="^(?:0|[1-9][0-9]*)(?:\\.(?:0|[1-9][0-9]*))*$",
            title="检查 UID",
        ),
    ]
    sn_uuid: Annotated[
        str,
        Field(
            alias="snUuid",
            max_length=64,
            min_length=1,
            pattern="^(?:0|[1-9][0-9]*)(?:\\.(?:0|[1-9][0-9]*))*$",
            title="序列 UID",
        ),
    ]
    inst_uuid: Annotated[
        str,
        Field(
            alias="instUuid",
            max_length=64,
            min_length=1,
            pattern="^(?:0|[1-9][0-9]*)(?:\\.(?:0|[1-9][0-9]*))*$",
            title="实例 UID",
        ),
    ]


class ServiceName(StrEnum):
    """
    服务名称为： queryImgCaheFileSn
    """

    query_img_cahe_file_sn = "queryImgCaheFileSn"


class QueryImgCaheFileSnInput(BaseModel):
    """
    §2.7 获取检查图像清单 (serviceName = queryImgCaheFileSn)。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    hi_img_indx: Annotated[
        str,
        Field(
            alias="hiImgIndx",
            examples=[
                "111-110101197804050038-20241122143000-0000000000000-000000000-123502004266007980"
            ],
            max_length=100,
            pattern="^(?:[0-9A-Z]{1,6})-(?:[0-9A-Z]{1,34})-(?:[0-9]{14})-(?:0|[0-9A-Z]{13})-(?:0|[0-9A-Z]{9})(?:-(?:[0-9A-Z]{18}))?$",
            title="医保影像云索引编码",
        ),
    ]
    """
    §1.2: 证件类型-证件号码-检查日期时间代码-成像设备代码-检查部位代码, 以 '-' 连接; 文档示例另带第 6 部分 (见 ERRATA E-INDEX-6)。第 4、5 部分的一个 0 与全零是同一值的两种写法, 指同一检查, 规范写法为全零 (ERRATA E-INDEX-SPELLING)。
    """
    service_name: Annotated[
        Literal["queryImgCaheFileSn"], Field(alias="serviceName", title="服务名称")
    ]
    """
    服务名称为： queryImgCaheFileSn
    """


class ServiceName1(StrEnum):
    """
    服务名称为： queryImgCahe
    """

    query_img_cahe = "queryImgCahe"


class QueryImgCaheInput(BaseModel):
    """
    §2.8 获取图像 (serviceName = queryImgCahe)。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    hi_img_indx: Annotated[
        str,
        Field(
            alias="hiImgIndx",
            examples=[
                "111-110101197804050038-20241122143000-0000000000000-000000000-123502004266007980"
            ],
            max_length=100,
            pattern="^(?:[0-9A-Z]{1,6})-(?:[0-9A-Z]{1,34})-(?:[0-9]{14})-(?:0|[0-9A-Z]{13})-(?:0|[0-9A-Z]{9})(?:-(?:[0-9A-Z]{18}))?$",
            title="医保影像云索引编码",
        ),
    ]
    """
    §1.2: 证件类型-证件号码-检查日期时间代码-成像设备代码-检查部位代码, 以 '-' 连接; 文档示例另带第 6 部分 (见 ERRATA E-INDEX-6)。第 4、5 部分的一个 0 与全零是同一值的两种写法, 指同一检查, 规范写法为全零 (ERRATA E-INDEX-SPELLING)。
    """
    img_file_sn: Annotated[FileSnDTO, Field(alias="imgFileSn", title="影像文件序列号")]
    service_name: Annotated[
        Literal["queryImgCahe"], Field(alias="serviceName", title="服务名称")
    ]
    """
    服务名称为： queryImgCahe
    """


class ImgCaheResult(BaseModel):
    """
    §2.7/§2.8 输出 data: 文档示例中两个交易共用此结构 (表中只列出部分字段)。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    area_code: Annotated[str | None, Field(alias="areaCode", title="区划代码")] = None
    """
    示例中出现, 表中没有; 恒为 null。
    """
    img_dld_link: Annotated[
        str | None, Field(alias="imgDldLink", title="影像图片下载服务地址")
    ] = None
    """
    示例中出现, 表中没有。
    """
    hi_img_indx: Annotated[
        str, Field(alias="hiImgIndx", max_length=100, title="医保影像云索引编码")
    ]
    img_file_sn_list: Annotated[
        list[FileSnDTO] | None, Field(alias="imgFileSnList", title="序列集合")
    ] = None
    """
    §2.7 的输出; §2.8 中为 null。
    """
    file_content: Annotated[
        Base64Bytes | None, Field(alias="fileContent", title="文件内容")
    ] = None
    """
    §2.8 的输出: DICOM 文件, Base64 格式; §2.7 中为 null。
    """


class SaveImgFileForm(BaseModel):
    """
    §2.2 请求体 (multipart/form-data)。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    hi_img_indx: Annotated[
        str,
        Field(
            alias="hiImgIndx",
            examples=[
                "111-110101197804050038-20241122143000-0000000000000-000000000-123502004266007980"
            ],
            max_length=100,
            pattern="^(?:[0-9A-Z]{1,6})-(?:[0-9A-Z]{1,34})-(?:[0-9]{14})-(?:0|[0-9A-Z]{13})-(?:0|[0-9A-Z]{9})(?:-(?:[0-9A-Z]{18}))?$",
            title="医保影像云索引编码",
        ),
    ]
    """
    由国家局制定编码规则，医疗机构及检查检验机构编制索引号，实现每个影像检查结果的索引全国唯一。
    """
    study_uid: Annotated[
        str,
        Field(
            alias="studyUid",
            max_length=64,
            min_length=1,
            pattern="^(?:0|[1-9][0-9]*)(?:\\.(?:0|[1-9][0-9]*))*$",
            title="检查唯一标识",
        ),
    ]
    """
    Study 唯一号，影像检查的唯一标识 Tag=0020,000d，多份报告合并检查，传入实际关联图像 Study 唯一号
    """
    accession_number: Annotated[
        str,
        Field(
            alias="accessionNumber", max_length=256, min_length=1, title="影像关联编号"
        ),
    ]
    """
    影像关联编号，与影像 Study 的 AccessionNumber 一致，用于关联影像 Study。如果对应多个影像，用英文逗号隔开。
    """
    file_md5: Annotated[
        str,
        Field(
            alias="fileMd5",
            max_length=512,
            min_length=1,
            pattern="^[0-9A-Fa-f]{32}$",
            title="文件 Md5 值",
        ),
    ]
    """
    单个影像 dicom 文件的 Md5 值，用于校验文件在传输过程中是否丢包，校验文件的完整性。
    """
    dicom: Annotated[bytes, Field(min_length=1, title="影像 dicom 文件")]
    """
    影像 dicom 原始文件
    """
    image_total_num: Annotated[
        str, Field(alias="imageTotalNum", pattern="^[0-9]{1,6}$", title="影像总张数")
    ]
    """
    本次检查的影像总张数 (multipart 表单中为数字字符串)
    """


class SaveRptFileForm(BaseModel):
    """
    §2.4 请求体 (multipart/form-data)。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    hi_img_indx: Annotated[
        str,
        Field(
            alias="hiImgIndx",
            examples=[
                "111-110101197804050038-20241122143000-0000000000000-000000000-123502004266007980"
            ],
            max_length=100,
            pattern="^(?:[0-9A-Z]{1,6})-(?:[0-9A-Z]{1,34})-(?:[0-9]{14})-(?:0|[0-9A-Z]{13})-(?:0|[0-9A-Z]{9})(?:-(?:[0-9A-Z]{18}))?$",
            title="医保影像云索引编码",
        ),
    ]
    """
    由国家局制定编码规则，医疗机构及检查检验机构编制索引号，实现每个影像检查结果的索引全国唯一。
    """
    study_uid: Annotated[
        str,
        Field(
            alias="studyUid",
            max_length=64,
            min_length=1,
            pattern="^(?:0|[1-9][0-9]*)(?:\\.(?:0|[1-9][0-9]*))*$",
            title="检查唯一标识",
        ),
    ]
    """
    Study 唯一号，影像检查的唯一标识 Tag=0020,000d，多份报告合并检查，传入实际关联图像 Study 唯一号
    """
    rpot_no: Annotated[
        str, Field(alias="rpotNo", max_length=50, min_length=1, title="报告编号")
    ]
    """
    报告唯一标识，能用于唯一标识一个报告（一个检查可能会有 0~n 个报告）
    """
    file_md5: Annotated[
        str,
        Field(
            alias="fileMd5",
            max_length=512,
            min_length=1,
            pattern="^[0-9A-Fa-f]{32}$",
            title="文件 Md5 值",
        ),
    ]
    """
    单个影像 dicom 文件的 Md5 值，用于校验文件在传输过程中是否丢包，校验文件的完整性。 (mie: 即上传的报告 PDF 文件的 MD5 值; 表中说明沿用了 §2.2 的 dicom 文件, 见 ERRATA E-FILEMD5-NOTE)
    """
    exam_rpot_pdf1: Annotated[
        bytes, Field(alias="examRpotPdf1", min_length=1, title="检查报告 pdf 文件")
    ]
    """
    检查报告的 pdf 格式文件
    """


class Infno(StrEnum):
    """
    上传接口对应编号为： saveExamRpotImgInfo
    """

    save_exam_rpot_img_info = "saveExamRpotImgInfo"


class Infno1(StrEnum):
    """
    上传接口对应编号为：saveImgFile
    """

    save_img_info = "saveImgInfo"
    save_img_file = "saveImgFile"


class SaveImgInfoRequest(BaseModel):
    """
    请求报文 (2.3)。
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    infno: Annotated[Infno1, Field(title="交易编号")]
    """
    上传接口对应编号为：saveImgFile
    """
    msgid: Annotated[
        str,
        Field(
            max_length=50,
            min_length=1,
            pattern="^[0-9A-Z]{12}[0-9]{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9][0-9]{4}$",
            title="发送方报文 ID",
        ),
    ]
    """
    交易机构编号(12)+时间(14)+顺序号(4) 时间格式：yyyyMMddHHmmss
    """
    inf_time: Annotated[
        str,
        Field(
            alias="infTime",
            min_length=1,
            pattern="^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
            title="交易时间",
        ),
    ]
    inf_code: Annotated[
        str, Field(alias="infCode", max_length=30, min_length=1, title="交易机构编号")
    ]
    """
    医疗机构代码或检查检验机构编号
    """
    key: Annotated[str, Field(max_length=50, min_length=1, title="密钥值")]
    input: Annotated[
        list[ImgInfo], Field(max_length=1000, min_length=1, title="交易输入")
    ]


class Infno2(StrEnum):
    """
    上传接口对应编号为： deleteExamRpotImgIndxInfo
    """

    delete_exam_rpot_img_idx_info = "deleteExamRpotImgIdxInfo"
    delete_exam_rpot_img_indx_info = "deleteExamRpotImgIndxInfo"


class DeleteExamRpotImgIdxInfoRequest(BaseModel):
    """
    请求报文 (2.5)。
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    infno: Annotated[Infno2, Field(title="交易编号")]
    """
    上传接口对应编号为： deleteExamRpotImgIndxInfo
    """
    msgid: Annotated[
        str,
        Field(
            max_length=50,
            min_length=1,
            pattern="^[0-9A-Z]{12}[0-9]{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9][0-9]{4}$",
            title="发送方报文 ID",
        ),
    ]
    """
    交易机构编号(12)+时间(14)+顺序号(4) 时间格式：yyyyMMddHHmmss
    """
    inf_time: Annotated[
        str,
        Field(
            alias="infTime",
            min_length=1,
            pattern="^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
            title="交易时间",
        ),
    ]
    inf_code: Annotated[
        str, Field(alias="infCode", max_length=30, min_length=1, title="交易机构编号")
    ]
    """
    医疗机构代码或检查检验机构编号
    """
    key: Annotated[str, Field(max_length=50, min_length=1, title="密钥值")]
    input: Annotated[
        list[HiImgIndx | DeleteExamRpotImgIdxItem],
        Field(max_length=1000, min_length=1, title="交易输入"),
    ]


class Infno3(StrEnum):
    """
    上传接口对应编号为：接口路径最后一层的名称
    """

    query_exam_rpot_img_indx_list_f_hospital = "queryExamRpotImgIndxListFHospital"


class QueryExamRpotImgIndxListFHospitalRequest(BaseModel):
    """
    请求报文 (2.6)。
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    infno: Annotated[Infno3, Field(title="交易编号")]
    """
    上传接口对应编号为：接口路径最后一层的名称
    """
    msgid: Annotated[
        str,
        Field(
            max_length=50,
            min_length=1,
            pattern="^[0-9A-Z]{12}[0-9]{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9][0-9]{4}$",
            title="发送方报文 ID",
        ),
    ]
    """
    交易机构编号(12)+时间(14)+顺序号(4) 时间格式：yyyyMMddHHmmss
    """
    inf_time: Annotated[
        str,
        Field(
            alias="infTime",
            min_length=1,
            pattern="^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
            title="交易时间",
        ),
    ]
    fixmedins_code: Annotated[
        str,
        Field(alias="fixmedinsCode", max_length=30, min_length=1, title="医疗机构编号"),
    ]
    key: Annotated[str | None, Field(max_length=50, title="密钥值")] = None
    """
    文档的表中没有此行 (序号从 4 跳到 6), 示例也不带: 可省略, 以便照文档发送的调用方得到服务 (见 ERRATA E-QUERY-KEY)。访问控制: fixmedinsCode 必须已登记; 带 key 时必须是该机构的密钥; 不带 key 时, 请求的来源地址必须在该机构的允许列表中 (mie institution allow CODE CIDR...); 前置机以 --require-query-key 运行时必须带 key。任一条不满足: 2001, message 说明原因, 不写入任何数据。
    """
    input: Annotated[QueryExamRpotImgIndxListInput, Field(title="交易输入")]


class Infno4(StrEnum):
    """
    上传接口对应编号为：接口路径最后一层的名称
    """

    query_img_cahe_f_index = "queryImgCaheFIndex"


class QueryImgCaheFIndexRequest(BaseModel):
    """
    请求报文 (2.7 与 2.8 共用 URL, 以 input.serviceName 区分)。
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    infno: Annotated[Infno4, Field(title="交易编号")]
    """
    上传接口对应编号为：接口路径最后一层的名称
    """
    msgid: Annotated[
        str,
        Field(
            max_length=50,
            min_length=1,
            pattern="^[0-9A-Z]{12}[0-9]{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9][0-9]{4}$",
            title="发送方报文 ID",
        ),
    ]
    """
    交易机构编号(12)+时间(14)+顺序号(4) 时间格式：yyyyMMddHHmmss
    """
    inf_time: Annotated[
        str,
        Field(
            alias="infTime",
            min_length=1,
            pattern="^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
            title="交易时间",
        ),
    ]
    fixmedins_code: Annotated[
        str,
        Field(alias="fixmedinsCode", max_length=30, min_length=1, title="医疗机构编号"),
    ]
    key: Annotated[str | None, Field(max_length=50, title="密钥值")] = None
    """
    文档的表中没有此行 (序号从 4 跳到 6), 示例也不带: 可省略, 以便照文档发送的调用方得到服务 (见 ERRATA E-QUERY-KEY)。访问控制: fixmedinsCode 必须已登记; 带 key 时必须是该机构的密钥; 不带 key 时, 请求的来源地址必须在该机构的允许列表中 (mie institution allow CODE CIDR...); 前置机以 --require-query-key 运行时必须带 key。任一条不满足: 2001, message 说明原因, 不写入任何数据。
    """
    input: Annotated[
        QueryImgCaheFileSnInput | QueryImgCaheInput,
        Field(discriminator="service_name", title="交易输入"),
    ]


class ResponseCode(IntEnum):
    """
    0 成功, 其它失败 (文档 §2.2/§2.4 的表写 String, 示例写数字 0: 取数字, 见 ERRATA E-CODE-TYPE)。mie 的错误码目录与 HTTP 状态见 x-enum-names / x-http-status。
    """

    success = 0
    """
    交易成功; 逐条应答见 data。
    """
    malformed_body = 1001
    """
    请求体不是 JSON, 或为空: 编码为 UTF-8 (可带 BOM), 带 BOM 的 UTF-16/32, 或 Content-Type 声明的 charset=GBK/GB18030; 同一对象中字段名重复、NaN/Infinity、超出范围或过长的数、过深的嵌套均不接受 (见 ERRATA E-JSON-STRICT)。
    """
    unsupported_media_type = 1002
    """
    Content-Type 与接口规定不符。
    """
    envelope_invalid = 1003
    """
    报文头 (infno, msgid, infTime, infCode, key, input) 或表单字段不符合规范, 或查询 (§2.6-§2.8) 的 input 不符合规范 (如 begntime 晚于 endtime); data 列出每个错误。
    """
    infno_mismatch = 1004
    """
    infno 不是该 URL 的交易编号。
    """
    msgid_conflict = 1005
    """
    同一机构的 msgid 已用于另一报文。内容相同的重发得到第一次的应答, 不重复写入。
    """
    payload_too_large = 1006
    """
    请求体超过前置机配置的上限。
    """
    unauthorized = 2001
    """
    infCode (查询为 fixmedinsCode) 未登记或 key 不是该机构的密钥, 不区分两者, 以免泄露已登记的机构; 查询 (§2.6-§2.8) 不带 key 时来源地址不在该机构的允许列表中, 或前置机要求查询带 key (--require-query-key)。message 说明原因。
    """
    some_records_refused = 3001
    """
    至少一条记录被拒绝 (succFlag = -1), 其余已保存; 见 data。
    """
    all_records_refused = 3002
    """
    全部记录被拒绝; 见 data。
    """
    file_md5_mismatch = 3003
    """
    上传文件的 MD5 与 fileMd5 不符; 未存储。
    """
    file_invalid = 3004
    """
    文件不是有效的 DICOM (§2.2) 或 PDF (§2.4); 未存储。
    """
    file_mismatch = 3005
    """
    DICOM 文件的 StudyInstanceUID 或 AccessionNumber 与 studyUid / accessionNumber 不符; 未存储。
    """
    unknown_exam = 3006
    """
    hiImgIndx 未经 saveExamRpotImgInfo 上传, 或属于其他机构; 未存储。
    """
    instance_conflict = 3007
    """
    同一 SOP Instance UID 已存储了不同内容; 未覆盖。
    """
    exam_not_found = 3008
    """
    查询 (§2.7/§2.8) 的 hiImgIndx 不在本前置机: 从未上传, 或已经 §2.5 删除。
    """
    instance_not_found = 3009
    """
    §2.8 的 imgFileSn 不是该索引存储的实例, 或其 examUuid / snUuid 与存储的实例不符。
    """
    not_found = 4004
    """
    URL 不是本规范的接口。
    """
    method_not_allowed = 4005
    """
    本规范的接口均为 POST。
    """
    internal_error = 5000
    """
    未预料的错误; 已记入日志, 未写入任何数据。
    """
    not_implemented = 5001
    """
    接口已在规范中定义, 本前置机尚未实现。
    """
    unavailable = 5003
    """
    数据库或存储暂不可用; 未写入任何数据, 可稍后重试。
    """


class Rule(StrEnum):
    required = "required"
    type = "type"
    max_length = "maxLength"
    min_length = "minLength"
    pattern = "pattern"
    format = "format"
    dictionary = "dictionary"
    enum = "enum"
    decimal = "decimal"
    min_items = "minItems"
    max_items = "maxItems"
    alias = "alias"
    additional_properties = "additionalProperties"
    index = "index"
    ownership = "ownership"
    range = "range"
    several_reports = "severalReports"


class Severity(StrEnum):
    """
    严重程度 (同 HL7 FHIR 校验器): error 拒绝; warning 保存并在应答中说明; information 仅说明。见 ERRATA 的 Severities 一节 (--strict 时 warning 即 error)
    """

    error = "error"
    warning = "warning"
    information = "information"


class FieldError(BaseModel):
    """
    mie 扩展: 一个字段的一条错误, 以规范的用语: 字段代码、中文名称、序号、违反的规则。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    path: str
    """
    字段在报文中的位置, 如 input[0].setlInfoList[1].examPart
    """
    code: str
    """
    字段代码 (参数代码)
    """
    title: str
    """
    字段中文名称 (参数名称)
    """
    seq: str
    """
    序号, 嵌套节点带节点标识, 如 SetlInfoDTO#4
    """
    rule: Rule
    severity: Severity | None = None
    """
    严重程度 (同 HL7 FHIR 校验器): error 拒绝; warning 保存并在应答中说明; information 仅说明。见 ERRATA 的 Severities 一节 (--strict 时 warning 即 error)
    """
    message: str
    """
    如 examPart(检查部位代码,#13): 'XYZ' 不在字典 examPart 中
    """


class Type(StrEnum):
    success = "success"
    error = "error"


class IndexListResponse(BaseModel):
    """
    应答报文 (§2.6): data 为 ResDTO 列表。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    code: ResponseCode
    type: Annotated[Type, Field(title="类型")]
    message: Annotated[str, Field(title="返回信息")]
    data: list[ResDTO] | None = None


class ImgCaheResponse(BaseModel):
    """
    应答报文 (§2.7, §2.8)。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    code: ResponseCode
    type: Annotated[Type, Field(title="类型")]
    message: Annotated[str, Field(title="返回信息")]
    data: ImgCaheResult | None = None


class Type3(StrEnum):
    error = "error"


class ErrorResponse(BaseModel):
    """
    出错时的应答报文: code 非 0, type = error, data 为错误列表 (无则为 null)。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    code: ResponseCode
    type: Type3
    message: str
    data: list[FieldError] | None = None


class ExamRpotImgInfo(BaseModel):
    """
    §2.1 输入 (节点标识: input): 一条影像检查数据。每条记录单独校验、单独应答。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    hi_img_indx: Annotated[
        str,
        Field(
            alias="hiImgIndx",
            examples=[
                "111-110101197804050038-20241122143000-0000000000000-000000000-123502004266007980"
            ],
            max_length=100,
            pattern="^(?:[0-9A-Z]{1,6})-(?:[0-9A-Z]{1,34})-(?:[0-9]{14})-(?:0|[0-9A-Z]{13})-(?:0|[0-9A-Z]{9})(?:-(?:[0-9A-Z]{18}))?$",
            title="医保影像云索引编码",
        ),
    ]
    """
    由国家局制定编码规则，医疗机构及检查检验机构编制索引号，实现每个影像检查结果的索引全国唯一。
    """
    psn_name: Annotated[
        str, Field(alias="psnName", max_length=50, min_length=1, title="人员姓名")
    ]
    psn_cert_type: Annotated[
        PsnCertType, Field(alias="psnCertType", title="人员证件类型")
    ]
    """
    采用《公安信息代码第156 部分：常用证件代码》（GA/T2000.156—2016 ）中常用证件代码
    """
    certno: Annotated[str, Field(max_length=50, min_length=1, title="证件号码")]
    gend: Annotated[Gend, Field(title="性别")]
    """
    数据字典，详见字典【性别 gend】
    """
    fixmedins_code: Annotated[
        str,
        Field(
            alias="fixmedinsCode", max_length=30, min_length=1, title="定点医药机构代码"
        ),
    ]
    fixmedins_name: Annotated[
        str | None,
        Field(alias="fixmedinsName", max_length=255, title="定点医药机构名称"),
    ] = None
    exam_admdvs: Annotated[
        str,
        Field(
            alias="examAdmdvs",
            max_length=6,
            min_length=1,
            pattern="^[0-9]{6}$",
            title="检查医保区划代码",
        ),
    ]
    """
    医疗机构所属医保区划
    """
    img_exam_type: Annotated[
        str,
        Field(
            alias="imgExamType",
            max_length=20,
            min_length=1,
            pattern="^(?:1|2|3|4|5)(?:[ ](?:1|2|3|4|5))*$",
            title="影像检查类型",
        ),
    ]
    """
    数据字典， 详见字典【影像检查类型 img_exam_type】， 多检查类别时，中间用“ ”间隔开，如 2 3
    """
    exam_item_code: Annotated[
        str, Field(alias="examItemCode", min_length=1, title="检查项目代码")
    ]
    """
    按照医保项目编码上传，多项目用“ ”隔开
    """
    img_exam_item: Annotated[
        str, Field(alias="imgExamItem", min_length=1, title="检查项目名称")
    ]
    """
    按照医保项目编码名称上传，多项目用“ ”隔开
    """
    exam_date: Annotated[
        str,
        Field(
            alias="examDate",
            min_length=1,
            pattern="^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$",
            title="检查日期",
        ),
    ]
    """
    yyyy-MM-dd
    """
    exam_part: Annotated[
        str,
        Field(
            alias="examPart",
            max_length=500,
            min_length=1,
            pattern="^(?:BB04ZZZZ21|BB04ZZZZ4Z|BB04ZZZZ5Z|BB04ZZZZSZ|BN09ZZZ51A|BR00ZZZZ2Z|BR00ZZZZ4Z|BR00ZZZZ5Z|BR00ZZZZP2|BR00ZZZZQ2|000000000|B02010ZZZ|B020ZYZZZ|B02910ZZZ|B029ZYZZZ|B02C10ZZZ|B02CZYZZZ|B03050ZZZ|B0305FZZZ|B030ZGZZZ|B030ZHZZZ|B030ZJZZZ|B030ZYZZZ|B03950ZZZ|B039ZYZZZ|B03BZYZZZ|B03C50ZZZ|B03CZYZZZ|B03D50ZZZ|B03DZYZZZ|B2063ZZ5Z|B206ZZZ4Z|B206ZZZZ1|B206ZZZZ6|B206ZZZZ7|B2211WZZZ|B2261XZZZ|B226ZYZZZ|B2365WZZZ|B2365XZZZ|B236ZYZZZ|B3201WZZZ|B3251WZZZ|B32G1WZZZ|B32H1WZZZ|B32J1WZZZ|B32P1WZZZ|B32R1WZZZ|B32W1WZZZ|B3305WZZZ|B330ZWZZZ|B3355WZZZ|B335ZWZZZ|B33G5WZZZ|B33GZWZZZ|B33H5WZZZ|B33HZWZZZ|B33J5WZZZ|B33JZWZZZ|B33P5WZZZ|B33PZWZZZ|B33R5WZZZ|B33RZWZZZ|B33W5WZZZ|B33WZWZZZ|B4201WZZZ|B4211WZZZ|B4221WZZZ|B4231WZZZ|B4241WZZZ|B4251WZZZ|B4281WZZZ|B42H1WZZZ|B42M1WZZZ|B42P1WZZZ|B4305WZZZ|B430ZWZZZ|B4315WZZZ|B431ZWZZZ|B4325WZZZ|B432ZWZZZ|B4335WZZZ|B433ZWZZZ|B4345WZZZ|B434ZWZZZ|B4355WZZZ|B435ZWZZZ|B4385WZZZ|B438ZWZZZ|B43H5WZZZ|B43HZWZZZ|B43M5WZZZ|B43MZWZZZ|B43P5WZZZ|B43PZWZZZ|B52T1WZZZ|B532ZWZZZ|B533ZWZZZ|B534ZWZZZ|B535ZWZZZ|B536ZWZZZ|B5375WZZZ|B537ZWZZZ|B538ZWZZZ|B539ZWZZZ|B53HZWZZZ|B8020ZZZZ|B83550ZZZ|B835ZYZZZ|B83650ZZZ|B836ZYZZZ|B83750ZZZ|B837ZYZZZ|B902AZZZZ|B902BZZZZ|B902ZZZ1Z|B92210ZZZ|B922ZYZZZ|B92B10ZZZ|B92BZYZZZ|B92F10ZZZ|B92FZYZZZ|B92J10ZZZ|B92JZYZZZ|B93050ZZZ|B930ZYZZZ|B93F50ZZZ|B93FZYZZZ|B93J50ZZZ|B93JZYZZZ|BB04ZZZZ1|BB04ZZZZ6|BB04ZZZZ7|BB0GZZZZ0|BB2410ZZZ|BB24ZBZZZ|BB24ZYZZZ|BB3C50ZZZ|BB3CZYZZZ|BD013ZZZZ|BD033Z2ZZ|BD033Z3ZZ|BD033ZZZZ|BD0433ZZZ|BD043Z4ZZ|BD053ZZZZ|BD0C3ZZZZ|BD2210ZZZ|BD22ZYZZZ|BD2310ZZZ|BD23ZYZZZ|BD241YZZZ|BD24ZYZZZ|BD2910ZZZ|BD29ZYZZZ|BD2C1YZZZ|BD2CZYZZZ|BF000ZPZZ|BF000ZRZZ|BF00QZQZZ|BF221YZZZ|BF22ZYZZZ|BF251YZZZ|BF25ZYZZZ|BF261YZZZ|BF26ZYZZZ|BF271YZZZ|BF27ZYZZZ|BF3550ZZZ|BF35ZYZZZ|BF3750ZZZ|BF37ZYZZZ|BG201YZZZ|BG20ZYZZZ|BG241YZZZ|BG24ZYZZZ|BH000ZFZG|BH00ZZZZG|BH010ZFZG|BH01ZZZZG|BH020ZFZG|BH02ZZZZG|BH325AZZZ|BH32ZYZZZ|BN00ZZZ03|BN00ZZZ11|BN00ZZZ1A|BN03ZZZ11|BN03ZZZ1A|BN04ZZZ1A|BN06ZZZ1A|BN0LZZZ03|BN0LZZZ11|BN0LZZZ1A|BN0MZZZ02|BN0NZZZCZ|BN0NZZZGZ|BN0NZZZHZ|BN0PZZZDZ|BN0PZZZFZ|BN0QZZZ00|BN0QZZZ1A|BN2310ZZZ|BN23ZYZZZ|BN25ZUZZZ|BN26ZUZZZ|BN2FZUZZZ|BN2JZUZZZ|BN2L10ZZZ|BN2LZYZZZ|BN39ZYZZZ|BP02ZZZ01|BP02ZZZ07|BP03ZZZ11|BP06ZZZ80|BP06ZZZZA|BP07ZZZ80|BP07ZZZZA|BP08ZZZ02|BP08ZZZ80|BP08ZZZVZ|BP08ZZZZD|BP09ZZZ02|BP09ZZZ80|BP09ZZZVZ|BP0AZZZ80|BP0AZZZ8A|BP0BZZZ80|BP0BZZZ8A|BP0GZZZZ0|BP0GZZZZ2|BP0GZZZZA|BP0HZZZZ0|BP0HZZZZ2|BP0HZZZZA|BP0JZZZZ0|BP0JZZZZA|BP0KZZZM1|BP0KZZZZ0|BP0KZZZZ1|BP0KZZZZ2|BP0KZZZZ7|BP0KZZZZA|BP0LZZZM1|BP0LZZZZ1|BP0LZZZZ2|BP0LZZZZ7|BP0LZZZZA|BP0NZZZZ1|BP0NZZZZ6|BP0NZZZZ7|BP0NZZZZA|BP0PZZZZ1|BP0PZZZZ6|BP0PZZZZ7|BP0PZZZZA|BP0WZZZ80|BP0WZZZ81|BP0WZZZ86|BP0XZZC80|BP0XZZC81|BP0XZZC86|BP0XZZC87|BP0XZZD80|BP0XZZD81|BP0XZZD86|BP0XZZD87|BP0YZZC80|BP0YZZC81|BP0YZZC86|BP0YZZC87|BP0YZZD80|BP0YZZD81|BP0YZZD86|BP0YZZD87|BP2810ZZZ|BP28ZUZZZ|BP2910ZZZ|BP29ZUZZZ|BP2E10ZZZ|BP2EZUZZZ|BP2F10ZZZ|BP2FZUZZZ|BP2G10ZZZ|BP2GZUZZZ|BP2H10ZZZ|BP2HZUZZZ|BP2J10ZZZ|BP2JZUZZZ|BP2K10ZZZ|BP2KZUZZZ|BP2L10ZZZ|BP2LZUZZZ|BP2M10ZZZ|BP2MZUZZZ|BP2N10ZZZ|BP2NZUZZZ|BP2P10ZZZ|BP2PZUZZZ|BP3850ZZZ|BP38ZYZZZ|BP3950ZZZ|BP39ZYZZZ|BP3E50ZZZ|BP3EZYZZZ|BP3F50ZZZ|BP3FZYZZZ|BP3G50ZZZ|BP3GZYZZZ|BP3H50ZZZ|BP3HZYZZZ|BP3J50ZZZ|BP3JZYZZZ|BP3K50ZZZ|BP3KZYZZZ|BP3L50ZZZ|BP3LZYZZZ|BP3M50ZZZ|BP3MZYZZZ|BP3N50ZZZ|BP3NZYZZZ|BP3P50ZZZ|BP3PZYZZZ|BQ00ZZZZA|BQ01ZZZZA|BQ02ZZZ00|BQ02ZZZT0|BQ03ZZ800|BQ03ZZ900|BQ03ZZZZB|BQ04ZZ800|BQ04ZZ900|BQ04ZZZZB|BQ07ZZZ00|BQ07ZZZZA|BQ08ZZZ00|BQ0BZZZ00|BQ0BZZZZA|BQ0CZZZ00|BQ0CZZZZA|BQ0GZZZ00|BQ0GZZZZA|BQ0HZZZ00|BQ0HZZZZA|BQ0JZZZZ2|BQ0JZZZZA|BQ0KZZZZ2|BQ0KZZZZA|BQ0LZZGZA|BQ0LZZZK0|BQ0LZZZN0|BQ0LZZZZ0|BQ0LZZZZA|BQ0MZZGZA|BQ0MZZZK0|BQ0MZZZN0|BQ0MZZZZ0|BQ0MZZZZA|BQ0VZZZ11|BQ0VZZZZ2|BQ0VZZZZA|BQ0WZZZ11|BQ0WZZZZ2|BQ0WZZZZA|BQ2010ZZZ|BQ20ZUZZZ|BQ2110ZZZ|BQ21ZUZZZ|BQ2710ZZZ|BQ27ZUZZZ|BQ2810ZZZ|BQ28ZUZZZ|BQ2D10ZZZ|BQ2DZUZZZ|BQ2FZUZZZ|BQ2X10ZZZ|BQ2XZUZZZ|BQ2Y10ZZZ|BQ2YZUZZZ|BQ3050ZZZ|BQ30ZYZZZ|BQ3150ZZZ|BQ31ZYZZZ|BQ3750ZZZ|BQ37ZYZZZ|BQ3850ZZZ|BQ38ZYZZZ|BQ3D50ZZZ|BQ3DZYZZZ|BQ3F50ZZZ|BQ3FZYZZZ|BQ3X50ZZZ|BQ3XZYZZZ|BQ3Y50ZZZ|BQ3YZYZZZ|BR00ZZZZ0|BR07ZZZ2Z|BR07ZZZZ0|BR09ZZZ2Z|BR09ZZZ5Z|BR09ZZZ6Z|BR09ZZZZ0|BR0CZZZZ0|BR0DZZZ00|BR0DZZZ06|BR0FZZZ0Z|BR0FZZZZ0|BR0HZZZ17|BR0HZZZ2Z|BR0LZZZR0|BR20ZYZZZ|BR21ZYZZZ|BR22ZYZZZ|BR23ZYZZZ|BR27ZYZZZ|BR29ZYZZZ|BR2CZUZZZ|BR2CZYZZZ|BR2DZYZZZ|BR2FZYZZZ|BR30ZYZZZ|BR31ZYZZZ|BR32ZYZZZ|BR33ZYZZZ|BR37ZYZZZ|BR39ZYZZZ|BR3DZYZZZ|BR3FZYZZZ|BT2010ZZZ|BT20ZYZZZ|BT2310ZZZ|BT23ZYZZZ|BT2810ZZZ|BT28ZYZZZ|BT3350ZZZ|BT33ZYZZZ|BT39ZHZZZ|BT39ZYZZZ|BU080ZZZZ|BU090ZZZZ|BU3D50ZZZ|BU3DZYZZZ|BV2910ZZZ|BV29ZYZZZ|BV3950ZZZ|BV39ZYZZZ|BW00ZZZ00|BW00ZZZ20|BW00ZZZ80|BW0QZZZ90|BW2110ZZZ|BW21ZYZZZ|BW2310ZZZ|BW23ZYZZZ|BW2510ZZZ|BW25ZYZZZ|BW2G10ZZZ|BW2GZYZZZ|BW2H10ZZZ|BW2HZYZZZ|BW3350ZZZ|BW33ZYZZZ|BW3G50ZZZ|BW3GZYZZZ|BW3MZYZZZ|B50B0ZZZ|B50C0ZZZ|B50D0ZZZ|BG350ZZZ|BG3ZYZZZ|BP09ZZZD|BP0WZZ87|BQ08ZZZA|BT00ZZZZ|BT05ZZZZ|B531Z|BF34|BD0|BF2|0)(?:[ ,](?:BB04ZZZZ21|BB04ZZZZ4Z|BB04ZZZZ5Z|BB04ZZZZSZ|BN09ZZZ51A|BR00ZZZZ2Z|BR00ZZZZ4Z|BR00ZZZZ5Z|BR00ZZZZP2|BR00ZZZZQ2|000000000|B02010ZZZ|B020ZYZZZ|B02910ZZZ|B029ZYZZZ|B02C10ZZZ|B02CZYZZZ|B03050ZZZ|B0305FZZZ|B030ZGZZZ|B030ZHZZZ|B030ZJZZZ|B030ZYZZZ|B03950ZZZ|B039ZYZZZ|B03BZYZZZ|B03C50ZZZ|B03CZYZZZ|B03D50ZZZ|B03DZYZZZ|B2063ZZ5Z|B206ZZZ4Z|B206ZZZZ1|B206ZZZZ6|B206ZZZZ7|B2211WZZZ|B2261XZZZ|B226ZYZZZ|B2365WZZZ|B2365XZZZ|B236ZYZZZ|B3201WZZZ|B3251WZZZ|B32G1WZZZ|B32H1WZZZ|B32J1WZZZ|B32P1WZZZ|B32R1WZZZ|B32W1WZZZ|B3305WZZZ|B330ZWZZZ|B3355WZZZ|B335ZWZZZ|B33G5WZZZ|B33GZWZZZ|B33H5WZZZ|B33HZWZZZ|B33J5WZZZ|B33JZWZZZ|B33P5WZZZ|B33PZWZZZ|B33R5WZZZ|B33RZWZZZ|B33W5WZZZ|B33WZWZZZ|B4201WZZZ|B4211WZZZ|B4221WZZZ|B4231WZZZ|B4241WZZZ|B4251WZZZ|B4281WZZZ|B42H1WZZZ|B42M1WZZZ|B42P1WZZZ|B4305WZZZ|B430ZWZZZ|B4315WZZZ|B431ZWZZZ|B4325WZZZ|B432ZWZZZ|B4335WZZZ|B433ZWZZZ|B4345WZZZ|B434ZWZZZ|B4355WZZZ|B435ZWZZZ|B4385WZZZ|B438ZWZZZ|B43H5WZZZ|B43HZWZZZ|B43M5WZZZ|B43MZWZZZ|B43P5WZZZ|B43PZWZZZ|B52T1WZZZ|B532ZWZZZ|B533ZWZZZ|B534ZWZZZ|B535ZWZZZ|B536ZWZZZ|B5375WZZZ|B537ZWZZZ|B538ZWZZZ|B539ZWZZZ|B53HZWZZZ|B8020ZZZZ|B83550ZZZ|B835ZYZZZ|B83650ZZZ|B836ZYZZZ|B83750ZZZ|B837ZYZZZ|B902AZZZZ|B902BZZZZ|B902ZZZ1Z|B92210ZZZ|B922ZYZZZ|B92B10ZZZ|B92BZYZZZ|B92F10ZZZ|B92FZYZZZ|B92J10ZZZ|B92JZYZZZ|B93050ZZZ|B930ZYZZZ|B93F50ZZZ|B93FZYZZZ|B93J50ZZZ|B93JZYZZZ|BB04ZZZZ1|BB04ZZZZ6|BB04ZZZZ7|BB0GZZZZ0|BB2410ZZZ|BB24ZBZZZ|BB24ZYZZZ|BB3C50ZZZ|BB3CZYZZZ|BD013ZZZZ|BD033Z2ZZ|BD033Z3ZZ|BD033ZZZZ|BD0433ZZZ|BD043Z4ZZ|BD053ZZZZ|BD0C3ZZZZ|BD2210ZZZ|BD22ZYZZZ|BD2310ZZZ|BD23ZYZZZ|BD241YZZZ|BD24ZYZZZ|BD2910ZZZ|BD29ZYZZZ|BD2C1YZZZ|BD2CZYZZZ|BF000ZPZZ|BF000ZRZZ|BF00QZQZZ|BF221YZZZ|BF22ZYZZZ|BF251YZZZ|BF25ZYZZZ|BF261YZZZ|BF26ZYZZZ|BF271YZZZ|BF27ZYZZZ|BF3550ZZZ|BF35ZYZZZ|BF3750ZZZ|BF37ZYZZZ|BG201YZZZ|BG20ZYZZZ|BG241YZZZ|BG24ZYZZZ|BH000ZFZG|BH00ZZZZG|BH010ZFZG|BH01ZZZZG|BH020ZFZG|BH02ZZZZG|BH325AZZZ|BH32ZYZZZ|BN00ZZZ03|BN00ZZZ11|BN00ZZZ1A|BN03ZZZ11|BN03ZZZ1A|BN04ZZZ1A|BN06ZZZ1A|BN0LZZZ03|BN0LZZZ11|BN0LZZZ1A|BN0MZZZ02|BN0NZZZCZ|BN0NZZZGZ|BN0NZZZHZ|BN0PZZZDZ|BN0PZZZFZ|BN0QZZZ00|BN0QZZZ1A|BN2310ZZZ|BN23ZYZZZ|BN25ZUZZZ|BN26ZUZZZ|BN2FZUZZZ|BN2JZUZZZ|BN2L10ZZZ|BN2LZYZZZ|BN39ZYZZZ|BP02ZZZ01|BP02ZZZ07|BP03ZZZ11|BP06ZZZ80|BP06ZZZZA|BP07ZZZ80|BP07ZZZZA|BP08ZZZ02|BP08ZZZ80|BP08ZZZVZ|BP08ZZZZD|BP09ZZZ02|BP09ZZZ80|BP09ZZZVZ|BP0AZZZ80|BP0AZZZ8A|BP0BZZZ80|BP0BZZZ8A|BP0GZZZZ0|BP0GZZZZ2|BP0GZZZZA|BP0HZZZZ0|BP0HZZZZ2|BP0HZZZZA|BP0JZZZZ0|BP0JZZZZA|BP0KZZZM1|BP0KZZZZ0|BP0KZZZZ1|BP0KZZZZ2|BP0KZZZZ7|BP0KZZZZA|BP0LZZZM1|BP0LZZZZ1|BP0LZZZZ2|BP0LZZZZ7|BP0LZZZZA|BP0NZZZZ1|BP0NZZZZ6|BP0NZZZZ7|BP0NZZZZA|BP0PZZZZ1|BP0PZZZZ6|BP0PZZZZ7|BP0PZZZZA|BP0WZZZ80|BP0WZZZ81|BP0WZZZ86|BP0XZZC80|BP0XZZC81|BP0XZZC86|BP0XZZC87|BP0XZZD80|BP0XZZD81|BP0XZZD86|BP0XZZD87|BP0YZZC80|BP0YZZC81|BP0YZZC86|BP0YZZC87|BP0YZZD80|BP0YZZD81|BP0YZZD86|BP0YZZD87|BP2810ZZZ|BP28ZUZZZ|BP2910ZZZ|BP29ZUZZZ|BP2E10ZZZ|BP2EZUZZZ|BP2F10ZZZ|BP2FZUZZZ|BP2G10ZZZ|BP2GZUZZZ|BP2H10ZZZ|BP2HZUZZZ|BP2J10ZZZ|BP2JZUZZZ|BP2K10ZZZ|BP2KZUZZZ|BP2L10ZZZ|BP2LZUZZZ|BP2M10ZZZ|BP2MZUZZZ|BP2N10ZZZ|BP2NZUZZZ|BP2P10ZZZ|BP2PZUZZZ|BP3850ZZZ|BP38ZYZZZ|BP3950ZZZ|BP39ZYZZZ|BP3E50ZZZ|BP3EZYZZZ|BP3F50ZZZ|BP3FZYZZZ|BP3G50ZZZ|BP3GZYZZZ|BP3H50ZZZ|BP3HZYZZZ|BP3J50ZZZ|BP3JZYZZZ|BP3K50ZZZ|BP3KZYZZZ|BP3L50ZZZ|BP3LZYZZZ|BP3M50ZZZ|BP3MZYZZZ|BP3N50ZZZ|BP3NZYZZZ|BP3P50ZZZ|BP3PZYZZZ|BQ00ZZZZA|BQ01ZZZZA|BQ02ZZZ00|BQ02ZZZT0|BQ03ZZ800|BQ03ZZ900|BQ03ZZZZB|BQ04ZZ800|BQ04ZZ900|BQ04ZZZZB|BQ07ZZZ00|BQ07ZZZZA|BQ08ZZZ00|BQ0BZZZ00|BQ0BZZZZA|BQ0CZZZ00|BQ0CZZZZA|BQ0GZZZ00|BQ0GZZZZA|BQ0HZZZ00|BQ0HZZZZA|BQ0JZZZZ2|BQ0JZZZZA|BQ0KZZZZ2|BQ0KZZZZA|BQ0LZZGZA|BQ0LZZZK0|BQ0LZZZN0|BQ0LZZZZ0|BQ0LZZZZA|BQ0MZZGZA|BQ0MZZZK0|BQ0MZZZN0|BQ0MZZZZ0|BQ0MZZZZA|BQ0VZZZ11|BQ0VZZZZ2|BQ0VZZZZA|BQ0WZZZ11|BQ0WZZZZ2|BQ0WZZZZA|BQ2010ZZZ|BQ20ZUZZZ|BQ2110ZZZ|BQ21ZUZZZ|BQ2710ZZZ|BQ27ZUZZZ|BQ2810ZZZ|BQ28ZUZZZ|BQ2D10ZZZ|BQ2DZUZZZ|BQ2FZUZZZ|BQ2X10ZZZ|BQ2XZUZZZ|BQ2Y10ZZZ|BQ2YZUZZZ|BQ3050ZZZ|BQ30ZYZZZ|BQ3150ZZZ|BQ31ZYZZZ|BQ3750ZZZ|BQ37ZYZZZ|BQ3850ZZZ|BQ38ZYZZZ|BQ3D50ZZZ|BQ3DZYZZZ|BQ3F50ZZZ|BQ3FZYZZZ|BQ3X50ZZZ|BQ3XZYZZZ|BQ3Y50ZZZ|BQ3YZYZZZ|BR00ZZZZ0|BR07ZZZ2Z|BR07ZZZZ0|BR09ZZZ2Z|BR09ZZZ5Z|BR09ZZZ6Z|BR09ZZZZ0|BR0CZZZZ0|BR0DZZZ00|BR0DZZZ06|BR0FZZZ0Z|BR0FZZZZ0|BR0HZZZ17|BR0HZZZ2Z|BR0LZZZR0|BR20ZYZZZ|BR21ZYZZZ|BR22ZYZZZ|BR23ZYZZZ|BR27ZYZZZ|BR29ZYZZZ|BR2CZUZZZ|BR2CZYZZZ|BR2DZYZZZ|BR2FZYZZZ|BR30ZYZZZ|BR31ZYZZZ|BR32ZYZZZ|BR33ZYZZZ|BR37ZYZZZ|BR39ZYZZZ|BR3DZYZZZ|BR3FZYZZZ|BT2010ZZZ|BT20ZYZZZ|BT2310ZZZ|BT23ZYZZZ|BT2810ZZZ|BT28ZYZZZ|BT3350ZZZ|BT33ZYZZZ|BT39ZHZZZ|BT39ZYZZZ|BU080ZZZZ|BU090ZZZZ|BU3D50ZZZ|BU3DZYZZZ|BV2910ZZZ|BV29ZYZZZ|BV3950ZZZ|BV39ZYZZZ|BW00ZZZ00|BW00ZZZ20|BW00ZZZ80|BW0QZZZ90|BW2110ZZZ|BW21ZYZZZ|BW2310ZZZ|BW23ZYZZZ|BW2510ZZZ|BW25ZYZZZ|BW2G10ZZZ|BW2GZYZZZ|BW2H10ZZZ|BW2HZYZZZ|BW3350ZZZ|BW33ZYZZZ|BW3G50ZZZ|BW3GZYZZZ|BW3MZYZZZ|B50B0ZZZ|B50C0ZZZ|B50D0ZZZ|BG350ZZZ|BG3ZYZZZ|BP09ZZZD|BP0WZZ87|BQ08ZZZA|BT00ZZZZ|BT05ZZZZ|B531Z|BF34|BD0|BF2|0))*$",
            title="检查部位代码",
        ),
    ]
    """
    拟采用《卫生健康信息数据元值域代码第 8 部分：临床辅助检查》（WS/T 364.8—2023）中常用放射诊断检查技术编码，暂由 9 位大写英文字母和阿拉伯数字组成，现阶段以数字“0”替代。 (mie: 多个代码以空格或英文逗号分隔; 也接受占位值 0 与 000000000, 见 ERRATA E-EXAMPART-PLACEHOLDER)
    """
    exam_way: Annotated[
        str | None,
        Field(
            alias="examWay",
            max_length=50,
            pattern="^$|^(?:1|2|3|4|5|6|7|8|9)(?:[ ](?:1|2|3|4|5|6|7|8|9))*$",
            title="检查方式",
        ),
    ] = None
    """
    1-平扫; 2-增强; 3-CTA; 4-MRA; 5-MRV; 6-MRCP; 7-MRU; 8-MRP; 9-其它; 多个用“ ” 隔开。
    """
    exam_dept_name: Annotated[
        str, Field(alias="examDeptName", max_length=50, min_length=1, title="检查科室")
    ]
    exam_dr_code: Annotated[
        str,
        Field(alias="examDrCode", max_length=50, min_length=1, title="检查医生代码"),
    ]
    exam_dr_name: Annotated[
        str | None, Field(alias="examDrName", max_length=50, title="检查医生姓名")
    ] = None
    clnc_diag: Annotated[str | None, Field(alias="clncDiag", title="临床诊断")] = None
    appy_no: Annotated[
        str | None, Field(alias="appyNo", max_length=50, title="申请单号")
    ] = None
    appy_dept_name: Annotated[
        str | None, Field(alias="appyDeptName", max_length=50, title="申请科室名称")
    ] = None
    appy_date: Annotated[
        str | None,
        Field(
            alias="appyDate",
            pattern="^$|^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
            title="申请日期",
        ),
    ] = None
    """
    yyyy-MM-dd HH:mm:ss
    """
    bilg_dr_code: Annotated[
        str,
        Field(alias="bilgDrCode", max_length=30, min_length=1, title="开单医师代码"),
    ]
    bilg_dr_name: Annotated[
        str | None, Field(alias="bilgDrName", max_length=50, title="开单医师姓名")
    ] = None
    disecode: Annotated[str | None, Field(max_length=50, title="疾病编码")] = None
    diag_time: Annotated[
        str | None,
        Field(
            alias="diagTime",
            pattern="^$|^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$",
            title="诊断时间",
        ),
    ] = None
    """
    yyyy-MM-dd
    """
    brdy: Annotated[
        str | None,
        Field(
            pattern="^$|^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$",
            title="出生日期",
        ),
    ] = None
    """
    yyyy-MM-dd
    """
    age: Annotated[Age | Age1 | None, Field(title="年龄")] = None
    """
    长度 5, 保留小数点后 1 位。
    """
    tel: Annotated[str | None, Field(max_length=50, title="联系电话")] = None
    fm_addr: Annotated[
        str | None, Field(alias="fmAddr", max_length=500, title="家庭住址")
    ] = None
    mrg_stas: Annotated[
        str | None, Field(alias="mrgStas", max_length=3, title="婚姻状态")
    ] = None
    elec_hl_card_no: Annotated[
        str | None, Field(alias="elecHlCardNo", max_length=40, title="电子健康卡号")
    ] = None
    prfs: Annotated[Prfs | None, Field(title="职业")] = None
    """
    数据字典，详见字典【职业 prfs】
    """
    poscode: Annotated[str | None, Field(max_length=6, title="邮政编码")] = None
    opt_no: Annotated[
        str | None, Field(alias="optNo", max_length=30, title="门诊号")
    ] = None
    ipt_no: Annotated[
        str | None, Field(alias="iptNo", max_length=30, title="住院号")
    ] = None
    wardarea_code: Annotated[
        str | None, Field(alias="wardareaCode", max_length=40, title="病区编码")
    ] = None
    wardarea_name: Annotated[
        str | None, Field(alias="wardareaName", max_length=50, title="病区名称")
    ] = None
    patn_id: Annotated[
        str | None, Field(alias="patnId", max_length=40, title="患者 ID")
    ] = None
    illhis: Annotated[str | None, Field(title="病史")] = None
    chfcomp: Annotated[str | None, Field(title="主诉")] = None
    algs: Annotated[str | None, Field(title="过敏史")] = None
    symp_begndate: Annotated[
        str | None,
        Field(
            alias="sympBegndate",
            pattern="^$|^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
            title="症状开始日期",
        ),
    ] = None
    """
    yyyy-MM-dd HH:mm:ss
    """
    symp_enddate: Annotated[
        str | None,
        Field(
            alias="sympEnddate",
            pattern="^$|^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
            title="症状终止日期",
        ),
    ] = None
    """
    yyyy-MM-dd HH:mm:ss
    """
    symp_dscr: Annotated[
        str | None, Field(alias="sympDscr", max_length=500, title="症状描述")
    ] = None
    """
    对患者症状的详细描述
    """
    study_uid: Annotated[
        str,
        Field(
            alias="studyUid",
            max_length=64,
            min_length=1,
            pattern="^(?:0|[1-9][0-9]*)(?:\\.(?:0|[1-9][0-9]*))*$",
            title="检查唯一标识",
        ),
    ]
    """
    Study 唯一号，影像检查的唯一标识 Tag=0020,000d, 多份报告合并检查，传入实际关联图像 Study 唯一号
    """
    charge_type: Annotated[ChargeType, Field(alias="chargeType", title="费用类型")]
    """
    数据字典：详见字典【费用类型 chargeType】
    """
    exam_charge: Annotated[
        ExamCharge | ExamCharge1, Field(alias="examCharge", title="检查费用")
    ]
    """
    检查费用
    """
    exam_inseqi: Annotated[
        str,
        Field(alias="examInseqi", max_length=500, min_length=1, title="成像设备代码"),
    ]
    """
    暂定以 13 位代码表示，现阶段以数字“0”替代
    """
    dev_room: Annotated[
        str | None, Field(alias="devRoom", max_length=200, title="设备房间")
    ] = None
    dev_name: Annotated[
        str | None, Field(alias="devName", max_length=200, title="设备名称")
    ] = None
    exam_dev_type: Annotated[
        str | None, Field(alias="examDevType", max_length=50, title="设备类型")
    ] = None
    exam_tecn_name: Annotated[
        str | None, Field(alias="examTecnName", max_length=50, title="检查技师姓名")
    ] = None
    med_tecn_code: Annotated[
        str | None, Field(alias="medTecnCode", max_length=20, title="医疗技师代码")
    ] = None
    accession_number: Annotated[
        str,
        Field(
            alias="accessionNumber", max_length=3000, min_length=1, title="影像关联编号"
        ),
    ]
    """
    影像关联编号，与影像 Study 的 AccessionNumber 一致，用于关联影像 Study。如果对应多个影像，用英文逗号隔开。
    """
    img_dscr: Annotated[
        str | None, Field(alias="imgDscr", max_length=3000, title="影像描述")
    ] = None
    """
    影像描述，如报告未写，则为空。
    """
    diag_rslt: Annotated[
        str | None, Field(alias="diagRslt", max_length=3000, title="诊断结果")
    ] = None
    """
    诊断结果，如报告未写，则为空。
    """
    rpot_no: Annotated[
        str, Field(alias="rpotNo", max_length=50, min_length=1, title="报告编号")
    ]
    """
    报告唯一标识，能用于唯一标识一个报告（一个检查可能会有 0~n 个报告，如果对应多个报告，用英文逗号隔开。）
    """
    rpot_medins_code: Annotated[
        str | None,
        Field(alias="rpotMedinsCode", max_length=30, title="报告医疗机构代码"),
    ] = None
    rpot_dr_code: Annotated[
        str | None, Field(alias="rpotDrCode", max_length=50, title="报告医师代码")
    ] = None
    rpot_dr_name: Annotated[
        str | None, Field(alias="rpotDrName", max_length=50, title="报告医师姓名")
    ] = None
    chk_medins_code: Annotated[
        str | None,
        Field(alias="chkMedinsCode", max_length=30, title="审核医疗机构代码"),
    ] = None
    chk_dr_code: Annotated[
        str | None, Field(alias="chkDrCode", max_length=50, title="审核医师代码")
    ] = None
    chk_dr_name: Annotated[
        str | None, Field(alias="chkDrName", max_length=50, title="审核医师姓名")
    ] = None
    sdry_chk_medins_code: Annotated[
        str | None,
        Field(alias="sdryChkMedinsCode", max_length=30, title="二审医疗机构代码"),
    ] = None
    sdry_chk_dr_code: Annotated[
        str | None, Field(alias="sdryChkDrCode", max_length=50, title="二审医师代码")
    ] = None
    sdry_chk_dr_name: Annotated[
        str | None, Field(alias="sdryChkDrName", max_length=50, title="二审医师姓名")
    ] = None
    rpt_date: Annotated[
        str | None,
        Field(
            alias="rptDate",
            pattern="^$|^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
            title="报告日期",
        ),
    ] = None
    """
    yyyy-MM-dd HH:mm:ss
    """
    chk_date: Annotated[
        str | None,
        Field(
            alias="chkDate",
            pattern="^$|^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
            title="审核日期",
        ),
    ] = None
    """
    yyyy-MM-dd HH:mm:ss
    """
    sdry_chk_date: Annotated[
        str,
        Field(
            alias="sdryChkDate",
            min_length=1,
            pattern="^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
            title="二审日期",
        ),
    ]
    """
    yyyy-MM-dd HH:mm:ss
    """
    exam_rslt_code: Annotated[
        ExamRsltCode | None, Field(alias="examRsltCode", title="检查检验结果代码")
    ] = None
    """
    (1-阴性;2-阳性;3-不确定)
    """
    rpot_adv: Annotated[
        str | None, Field(alias="rpotAdv", max_length=500, title="报告建议")
    ] = None
    rpot_pub_date: Annotated[
        str | None,
        Field(
            alias="rpotPubDate",
            pattern="^$|^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
            title="出具报告日期",
        ),
    ] = None
    """
    yyyy-MM-dd HH:mm:ss
    """
    rpot_crit_val: Annotated[
        str | None, Field(alias="rpotCritVal", max_length=500, title="报告临界值")
    ] = None
    hosp_lv: Annotated[HospLv, Field(alias="hospLv", title="检查医院等级")]
    """
    数据字典，详见字典【医院等级 hosp_lv】
    """
    setl_date: Annotated[
        str,
        Field(
            alias="setlDate",
            min_length=1,
            pattern="^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
            title="结算时间",
        ),
    ]
    """
    yyyy-MM-dd HH:mm:ss
    """
    setl_info_list: Annotated[
        list[SetlInfoDTO], Field(alias="setlInfoList", min_length=1, title="结算信息")
    ]


class RecordResult(BaseModel):
    """
    §2.1/§2.3/§2.5 输出: 每条输入记录一条应答。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    hi_img_indx: Annotated[
        str | None, Field(alias="hiImgIndx", max_length=100, title="医保影像云索引编码")
    ] = None
    succ_flag: Annotated[SuccFlag, Field(alias="succFlag", title="成功标志")]
    """
    【-1】失败(全部数据失败) 【0】失败(部分数据失败) 【1】成功 (mie: 每条记录整条保存或整条拒绝, 故逐条只答 1 或 -1; 部分失败由报文的 code 3001 表示, 见 ERRATA E-SUCCFLAG)
    """
    message: Annotated[str | None, Field(max_length=3000, title="返回信息")] = None
    """
    交易失败状态下，业务返回错误信息。
    """
    errors: list[FieldError] | None = None
    """
    mie 扩展: 本条记录的每个错误, 机器可读 (message 是同样内容的文字)。
    """


class FileUploadResult(BaseModel):
    """
    §2.2/§2.4 输出: 平铺结构, 无 type/data。表中索引字段名为 hiImgIdx, 示例中为 hiImgIndx: 两者都给出。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    code: ResponseCode
    hi_img_indx: Annotated[
        str | None, Field(alias="hiImgIndx", max_length=100, title="医保影像云索引编码")
    ] = None
    hi_img_idx: Annotated[
        str | None, Field(alias="hiImgIdx", max_length=100, title="医保影像云索引编码")
    ] = None
    """
    与 hiImgIndx 相同 (表中的写法)。
    """
    message: Annotated[str | None, Field(max_length=3000, title="返回信息")] = None
    errors: list[FieldError] | None = None


class SaveExamRpotImgInfoRequest(BaseModel):
    """
    请求报文 (2.1)。
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    infno: Annotated[Infno, Field(title="交易编号")]
    """
    上传接口对应编号为： saveExamRpotImgInfo
    """
    msgid: Annotated[
        str,
        Field(
            max_length=50,
            min_length=1,
            pattern="^[0-9A-Z]{12}[0-9]{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9][0-9]{4}$",
            title="发送方报文 ID",
        ),
    ]
    """
    交易机构编号(12)+时间(14)+顺序号(4) 时间格式：yyyyMMddHHmmss
    """
    inf_time: Annotated[
        str,
        Field(
            alias="infTime",
            min_length=1,
            pattern="^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
            title="交易时间",
        ),
    ]
    inf_code: Annotated[
        str, Field(alias="infCode", max_length=30, min_length=1, title="交易机构编号")
    ]
    """
    医疗机构代码或检查检验机构编号
    """
    key: Annotated[str, Field(max_length=50, min_length=1, title="密钥值")]
    input: Annotated[
        list[ExamRpotImgInfo], Field(max_length=1000, min_length=1, title="交易输入")
    ]


class RecordResultsResponse(BaseModel):
    """
    应答报文 (§2.1, §2.3, §2.5): data 为逐条应答。
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    code: ResponseCode
    type: Annotated[Type, Field(title="类型")]
    message: Annotated[str, Field(title="返回信息")]
    data: list[RecordResult] | None = None
