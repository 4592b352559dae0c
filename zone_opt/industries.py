"""GB/T 4754-2017 industry divisions and the supply-chain affinity between them.

China's *Industrial classification for national economic activities* (GB/T 4754-2017,
amended 2019) has 20 sections (A-T) and 97 two-digit divisions, ``"01"`` to ``"97"``,
numbered contiguously. :data:`DIVISIONS` lists each with its section, Chinese name and
English name; division ``"dd"`` sits at index ``int(dd) - 1`` of every array here.

:data:`SUPPLY_AFFINITY` is a ``97 x 97`` float64 matrix, ``A[buyer, supplier]``: the share
of a buyer division's intermediate purchases that comes from each supplier division (each
row sums to 1). It is a coarse, documented stand-in for the direct-requirement structure
of China's input-output tables (NBS, 2017 and 2020 tables, 149/153 sectors): for each
division the principal supplying divisions are listed in :data:`_MAIN_SUPPLIERS` with
qualitative weights taken from which IO sectors dominate its intermediate-input column
(e.g. computers and electronics, division 39, buy chiefly from 39 itself - components -,
38 electrical machinery, 26 chemicals, 29 plastics, 32 non-ferrous metals, 33 metal
products and 40 instruments), and every division also buys a common base of electricity
(44), wholesale (51), road transport (54) and business services (72). The matrix drives the
synthetic generator's supplier and customer lists and the industry-chain score of
matching (``A[i, j] + A[j, i]`` measures how strongly two divisions trade).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "DIVISIONS",
    "DIVISION_CODES",
    "N_DIVISIONS",
    "SECTIONS",
    "SECTION_OF_DIVISION",
    "SUPPLY_AFFINITY",
    "Division",
    "chain_affinity",
    "division_codes_array",
    "division_index",
]

#: ``(code, section, name_zh, name_en)`` for each of the 97 divisions, in code order.
Division = tuple[str, str, str, str]

DIVISIONS: Final[tuple[Division, ...]] = (
    ("01", "A", "农业", "Agriculture"),
    ("02", "A", "林业", "Forestry"),
    ("03", "A", "畜牧业", "Animal husbandry"),
    ("04", "A", "渔业", "Fishery"),
    ("05", "A", "农、林、牧、渔专业及辅助性活动", "Support activities for agriculture"),
    ("06", "B", "煤炭开采和洗选业", "Mining and washing of coal"),
    ("07", "B", "石油和天然气开采业", "Extraction of petroleum and natural gas"),
    ("08", "B", "黑色金属矿采选业", "Mining of ferrous metal ores"),
    ("09", "B", "有色金属矿采选业", "Mining of non-ferrous metal ores"),
    ("10", "B", "非金属矿采选业", "Mining of non-metallic minerals"),
    ("11", "B", "开采专业及辅助性活动", "Support activities for mining"),
    ("12", "B", "其他采矿业", "Other mining"),
    ("13", "C", "农副食品加工业", "Processing of food from agricultural products"),
    ("14", "C", "食品制造业", "Manufacture of foods"),
    ("15", "C", "酒、饮料和精制茶制造业", "Manufacture of liquor, beverages and refined tea"),
    ("16", "C", "烟草制品业", "Manufacture of tobacco"),
    ("17", "C", "纺织业", "Manufacture of textiles"),
    ("18", "C", "纺织服装、服饰业", "Manufacture of textile wearing apparel and accessories"),
    ("19", "C", "皮革、毛皮、羽毛及其制品和制鞋业", "Leather, fur, feather products and footwear"),
    (
        "20",
        "C",
        "木材加工和木、竹、藤、棕、草制品业",
        "Wood, bamboo, rattan, palm and straw products",
    ),
    ("21", "C", "家具制造业", "Manufacture of furniture"),
    ("22", "C", "造纸和纸制品业", "Manufacture of paper and paper products"),
    ("23", "C", "印刷和记录媒介复制业", "Printing and reproduction of recording media"),
    ("24", "C", "文教、工美、体育和娱乐用品制造业", "Culture, education, arts, sport goods"),
    ("25", "C", "石油、煤炭及其他燃料加工业", "Processing of petroleum, coal and other fuels"),
    ("26", "C", "化学原料和化学制品制造业", "Raw chemical materials and chemical products"),
    ("27", "C", "医药制造业", "Manufacture of medicines"),
    ("28", "C", "化学纤维制造业", "Manufacture of chemical fibres"),
    ("29", "C", "橡胶和塑料制品业", "Rubber and plastic products"),
    ("30", "C", "非金属矿物制品业", "Non-metallic mineral products"),
    ("31", "C", "黑色金属冶炼和压延加工业", "Smelting and pressing of ferrous metals"),
    ("32", "C", "有色金属冶炼和压延加工业", "Smelting and pressing of non-ferrous metals"),
    ("33", "C", "金属制品业", "Metal products"),
    ("34", "C", "通用设备制造业", "General-purpose machinery"),
    ("35", "C", "专用设备制造业", "Special-purpose machinery"),
    ("36", "C", "汽车制造业", "Manufacture of automobiles"),
    ("37", "C", "铁路、船舶、航空航天和其他运输设备制造业", "Railway, ship, aerospace equipment"),
    ("38", "C", "电气机械和器材制造业", "Electrical machinery and equipment"),
    ("39", "C", "计算机、通信和其他电子设备制造业", "Computers, communication, electronics"),
    ("40", "C", "仪器仪表制造业", "Measuring instruments and meters"),
    ("41", "C", "其他制造业", "Other manufacturing"),
    ("42", "C", "废弃资源综合利用业", "Utilisation of waste resources"),
    ("43", "C", "金属制品、机械和设备修理业", "Repair of metal products and machinery"),
    ("44", "D", "电力、热力生产和供应业", "Production and supply of electricity and heat"),
    ("45", "D", "燃气生产和供应业", "Production and supply of gas"),
    ("46", "D", "水的生产和供应业", "Production and supply of water"),
    ("47", "E", "房屋建筑业", "Building construction"),
    ("48", "E", "土木工程建筑业", "Civil engineering"),
    ("49", "E", "建筑安装业", "Construction installation"),
    ("50", "E", "建筑装饰、装修和其他建筑业", "Building decoration and other construction"),
    ("51", "F", "批发业", "Wholesale trade"),
    ("52", "F", "零售业", "Retail trade"),
    ("53", "G", "铁路运输业", "Rail transport"),
    ("54", "G", "道路运输业", "Road transport"),
    ("55", "G", "水上运输业", "Water transport"),
    ("56", "G", "航空运输业", "Air transport"),
    ("57", "G", "管道运输业", "Pipeline transport"),
    ("58", "G", "多式联运和运输代理业", "Multimodal transport and freight agency"),
    ("59", "G", "装卸搬运和仓储业", "Cargo handling and warehousing"),
    ("60", "G", "邮政业", "Postal and courier services"),
    ("61", "H", "住宿业", "Accommodation"),
    ("62", "H", "餐饮业", "Catering"),
    ("63", "I", "电信、广播电视和卫星传输服务", "Telecommunications and broadcasting"),
    ("64", "I", "互联网和相关服务", "Internet and related services"),
    ("65", "I", "软件和信息技术服务业", "Software and information technology services"),
    ("66", "J", "货币金融服务", "Monetary financial services"),
    ("67", "J", "资本市场服务", "Capital market services"),
    ("68", "J", "保险业", "Insurance"),
    ("69", "J", "其他金融业", "Other financial services"),
    ("70", "K", "房地产业", "Real estate"),
    ("71", "L", "租赁业", "Leasing"),
    ("72", "L", "商务服务业", "Business services"),
    ("73", "M", "研究和试验发展", "Research and experimental development"),
    ("74", "M", "专业技术服务业", "Professional technical services"),
    ("75", "M", "科技推广和应用服务业", "Technology promotion and application services"),
    ("76", "N", "水利管理业", "Water conservancy management"),
    ("77", "N", "生态保护和环境治理业", "Ecological protection and environmental treatment"),
    ("78", "N", "公共设施管理业", "Public facilities management"),
    ("79", "N", "土地管理业", "Land management"),
    ("80", "O", "居民服务业", "Services to households"),
    ("81", "O", "机动车、电子产品和日用产品修理业", "Repair of vehicles, electronics, goods"),
    ("82", "O", "其他服务业", "Other services"),
    ("83", "P", "教育", "Education"),
    ("84", "Q", "卫生", "Health"),
    ("85", "Q", "社会工作", "Social work"),
    ("86", "R", "新闻和出版业", "News and publishing"),
    ("87", "R", "广播、电视、电影和录音制作业", "Radio, television, film and recording"),
    ("88", "R", "文化艺术业", "Culture and arts"),
    ("89", "R", "体育", "Sports"),
    ("90", "R", "娱乐业", "Entertainment"),
    ("91", "S", "中国共产党机关", "Organs of the Communist Party of China"),
    ("92", "S", "国家机构", "State organs"),
    ("93", "S", "人民政协、民主党派", "CPPCC and democratic parties"),
    ("94", "S", "社会保障", "Social security"),
    ("95", "S", "群众团体、社会团体和其他成员组织", "Mass and membership organisations"),
    ("96", "S", "基层群众自治组织及其他组织", "Grass-roots self-governing organisations"),
    ("97", "T", "国际组织", "International organisations"),
)

N_DIVISIONS: Final = len(DIVISIONS)
#: The 97 two-digit codes, ``"01"`` .. ``"97"``.
DIVISION_CODES: Final[tuple[str, ...]] = tuple(d[0] for d in DIVISIONS)
#: Section letter of each division, by code.
SECTION_OF_DIVISION: Final[dict[str, str]] = {d[0]: d[1] for d in DIVISIONS}
#: Section letter -> ``(name_zh, name_en)``.
SECTIONS: Final[dict[str, tuple[str, str]]] = {
    "A": ("农、林、牧、渔业", "Agriculture, forestry, animal husbandry and fishery"),
    "B": ("采矿业", "Mining"),
    "C": ("制造业", "Manufacturing"),
    "D": ("电力、热力、燃气及水生产和供应业", "Electricity, heat, gas and water supply"),
    "E": ("建筑业", "Construction"),
    "F": ("批发和零售业", "Wholesale and retail trade"),
    "G": ("交通运输、仓储和邮政业", "Transport, storage and postal services"),
    "H": ("住宿和餐饮业", "Accommodation and catering"),
    "I": ("信息传输、软件和信息技术服务业", "Information transmission, software and IT"),
    "J": ("金融业", "Finance"),
    "K": ("房地产业", "Real estate"),
    "L": ("租赁和商务服务业", "Leasing and business services"),
    "M": ("科学研究和技术服务业", "Scientific research and technical services"),
    "N": ("水利、环境和公共设施管理业", "Water, environment and public facilities"),
    "O": ("居民服务、修理和其他服务业", "Household, repair and other services"),
    "P": ("教育", "Education"),
    "Q": ("卫生和社会工作", "Health and social work"),
    "R": ("文化、体育和娱乐业", "Culture, sports and entertainment"),
    "S": ("公共管理、社会保障和社会组织", "Public administration and social organisations"),
    "T": ("国际组织", "International organisations"),
}

# Principal suppliers of each division, as ``buyer: {supplier: weight}`` (weights are
# relative within the row). Read off the dominant intermediate inputs of the matching
# sectors in China's input-output tables; divisions not listed buy only the common base.
_MAIN_SUPPLIERS: Final[dict[int, dict[int, float]]] = {
    1: {26: 4, 1: 3, 13: 1, 5: 1},
    2: {2: 3, 26: 1, 5: 1},
    3: {13: 5, 1: 3, 27: 1},
    4: {13: 3, 4: 2, 25: 2},
    5: {1: 2, 26: 2, 34: 1},
    6: {34: 2, 35: 3, 31: 2, 26: 1, 11: 2},
    7: {35: 3, 25: 2, 11: 3, 33: 1},
    8: {35: 3, 31: 1, 26: 2, 11: 1},
    9: {35: 3, 26: 2, 11: 1},
    10: {35: 2, 26: 1, 25: 1},
    11: {35: 3, 25: 2, 33: 1},
    13: {1: 6, 3: 3, 4: 1, 29: 1, 22: 1},
    14: {13: 5, 1: 2, 29: 1, 22: 1},
    15: {1: 4, 13: 2, 30: 2, 22: 1},
    16: {1: 5, 22: 2, 16: 1},
    17: {28: 5, 1: 3, 17: 3, 26: 2},
    18: {17: 6, 28: 2, 18: 1},
    19: {3: 3, 19: 3, 26: 1, 29: 2, 17: 1},
    20: {2: 6, 26: 1, 20: 1},
    21: {20: 5, 33: 2, 29: 1, 17: 1},
    22: {22: 4, 2: 2, 26: 3, 42: 1},
    23: {22: 6, 26: 2},
    24: {29: 3, 22: 2, 17: 1, 33: 1, 39: 1},
    25: {7: 6, 6: 4},
    26: {25: 4, 26: 5, 7: 1, 10: 1, 6: 1},
    27: {26: 5, 13: 1, 27: 2, 29: 1},
    28: {26: 6, 25: 3},
    29: {26: 6, 29: 2, 25: 1},
    30: {10: 3, 30: 3, 6: 2, 26: 1},
    31: {8: 5, 31: 4, 6: 2},
    32: {9: 5, 32: 4, 26: 1},
    33: {31: 5, 32: 3, 33: 2, 26: 1},
    34: {31: 3, 33: 3, 34: 3, 38: 2, 32: 1},
    35: {34: 3, 31: 2, 33: 2, 38: 2, 39: 1, 35: 2},
    36: {36: 6, 29: 2, 31: 2, 33: 2, 38: 2, 39: 1, 34: 1},
    37: {31: 3, 33: 2, 34: 3, 38: 2, 39: 1, 37: 2},
    38: {32: 4, 31: 2, 38: 3, 29: 1, 39: 1, 26: 1},
    39: {39: 8, 38: 2, 26: 1, 29: 1, 32: 1, 33: 1, 40: 1},
    40: {39: 3, 38: 2, 33: 1, 40: 2},
    41: {29: 2, 33: 1, 26: 1},
    42: {42: 2, 51: 2},
    43: {33: 2, 34: 2, 38: 1},
    44: {6: 6, 44: 3, 45: 1},
    45: {7: 5, 45: 2},
    46: {46: 1, 26: 1},
    47: {30: 5, 31: 3, 48: 1, 33: 1},
    48: {30: 5, 31: 3, 25: 1},
    49: {38: 4, 33: 2, 34: 2},
    50: {30: 3, 21: 1, 29: 1, 26: 1},
    51: {51: 2, 59: 2},
    52: {51: 4, 70: 1},
    53: {44: 2, 37: 2},
    54: {25: 5, 36: 2},
    55: {25: 5, 37: 2},
    56: {25: 5, 37: 2},
    58: {54: 3, 55: 2, 56: 1},
    59: {54: 2, 71: 1},
    60: {54: 3, 56: 1},
    61: {13: 1, 62: 1, 70: 2},
    62: {13: 3, 1: 2, 14: 1},
    63: {39: 4, 65: 1},
    64: {63: 3, 65: 2, 39: 1},
    65: {65: 3, 39: 2, 63: 1, 64: 1},
    66: {66: 2, 65: 1},
    67: {66: 2, 65: 1},
    68: {66: 2, 68: 1},
    70: {47: 4, 66: 2},
    71: {36: 2, 34: 2},
    72: {65: 1, 70: 1},
    73: {39: 2, 40: 2, 26: 1, 74: 1},
    74: {40: 2, 39: 1, 65: 1},
    75: {73: 2, 65: 1},
    77: {35: 2, 26: 2},
    81: {39: 2, 36: 1, 38: 1},
    83: {22: 1, 39: 1},
    84: {27: 5, 35: 2},
    86: {22: 4, 23: 3},
    87: {39: 2, 65: 1},
}
# Every division buys electricity, wholesale, road freight and business services.
_COMMON_BASE: Final[dict[int, float]] = {44: 0.08, 51: 0.05, 54: 0.04, 72: 0.03}
_MAIN_SHARE: Final = 0.80


def _build_affinity() -> npt.NDArray[np.float64]:
    a = np.zeros((N_DIVISIONS, N_DIVISIONS), dtype=np.float64)
    for buyer in range(1, N_DIVISIONS + 1):
        row = a[buyer - 1]
        main = _MAIN_SUPPLIERS.get(buyer, {})
        total = sum(main.values())
        for supplier, weight in main.items():
            row[supplier - 1] += _MAIN_SHARE * weight / total
        for supplier, weight in _COMMON_BASE.items():
            row[supplier - 1] += weight
        row /= row.sum()
    a.setflags(write=False)
    return a


#: ``A[buyer, supplier]``: share of the buyer division's purchases from the supplier
#: division; rows sum to 1. Index ``int(code) - 1``. Read-only.
SUPPLY_AFFINITY: Final[npt.NDArray[np.float64]] = _build_affinity()


def chain_affinity() -> npt.NDArray[np.float64]:
    """Symmetric industry-chain strength ``S = (A + A.T) / 2`` (97 x 97, in [0, 1]).

    ``S[i, j]`` is high when either division buys much from the other. O(97^2).
    """
    return (SUPPLY_AFFINITY + SUPPLY_AFFINITY.T) / 2.0


def division_codes_array() -> pa.Array:
    """The 97 codes as an Arrow string array (index ``i`` holds division ``i + 1``)."""
    return pa.array(DIVISION_CODES, type=pa.string())


def division_index(codes: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int16]:
    """Index ``0..96`` of each GB/T 4754-2017 code in ``codes``; -1 where invalid or null.

    Vectorised (Arrow hash lookup), O(n).
    """
    idx = pc.index_in(codes, value_set=division_codes_array())
    out: npt.NDArray[np.int16] = (
        pc.fill_null(idx, -1).to_numpy(zero_copy_only=False).astype(np.int16)
    )
    return out
