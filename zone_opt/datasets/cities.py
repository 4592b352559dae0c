"""Chinese manufacturing cities around which synthetic parks and enterprises are placed.

Each city has its centre (WGS-84), its GB/T 2260 administrative division code (the
city-level code used in the region part of a unified social credit code), the regional
power grid of the MEE emission-factor tables (Guangdong in the Southern grid; Jiangsu,
Zhejiang, Shanghai, Anhui and Fujian in the East China grid; Sichuan and Chongqing in the
Southwest grid since the 2022 tables), a typical asking rent for standard factory floor
space and a weight for how many parks it gets.

Rents are medians of asking rents for standard multi-storey factory space (厂房) in
2023-2024 market reports: Shenzhen 30-80 CNY/m2/month (median about 50), the Yangtze
River Delta 25-45, inland capitals 15-25, the north-east about 15. Weights follow the
scale of each city's industrial-park stock (Shenzhen alone counts 4,420 industrial parks
in its 2021 census of parks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["CITIES", "GREATER_BAY_AREA", "City"]


@dataclass(frozen=True, slots=True)
class City:
    """A city parks are placed around."""

    key: str
    name_zh: str
    region_code: str
    lat: float
    lon: float
    grid_region: str
    factory_rent_cny_per_m2_month: float
    weight: float


CITIES: Final[tuple[City, ...]] = (
    City("shenzhen", "深圳", "440300", 22.543, 114.058, "south", 50.0, 10.0),
    City("suzhou", "苏州", "320500", 31.299, 120.585, "east", 32.0, 6.0),
    City("wuhan", "武汉", "420100", 30.593, 114.305, "central", 20.0, 3.0),
    City("chengdu", "成都", "510100", 30.572, 104.066, "southwest", 20.0, 3.0),
    City("tianjin", "天津", "120100", 39.084, 117.201, "north", 22.0, 3.0),
    City("shanghai", "上海", "310100", 31.230, 121.474, "east", 45.0, 5.0),
    City("dongguan", "东莞", "441900", 23.021, 113.752, "south", 28.0, 6.0),
    City("xian", "西安", "610100", 34.341, 108.940, "northwest", 18.0, 2.0),
    City("shenyang", "沈阳", "210100", 41.805, 123.431, "northeast", 14.0, 2.0),
    City("hangzhou", "杭州", "330100", 30.274, 120.155, "east", 32.0, 4.0),
    City("guangzhou", "广州", "440100", 23.129, 113.264, "south", 35.0, 5.0),
    City("foshan", "佛山", "440600", 23.022, 113.122, "south", 24.0, 4.0),
    City("ningbo", "宁波", "330200", 29.868, 121.544, "east", 26.0, 3.0),
    City("wuxi", "无锡", "320200", 31.491, 120.312, "east", 26.0, 3.0),
    City("hefei", "合肥", "340100", 31.821, 117.227, "east", 18.0, 2.0),
    City("xiamen", "厦门", "350200", 24.480, 118.089, "east", 26.0, 2.0),
    City("changsha", "长沙", "430100", 28.228, 112.939, "central", 18.0, 2.0),
    City("zhengzhou", "郑州", "410100", 34.747, 113.625, "central", 16.0, 2.0),
    City("chongqing", "重庆", "500100", 29.563, 106.551, "southwest", 16.0, 3.0),
    City("qingdao", "青岛", "370200", 36.067, 120.383, "north", 20.0, 2.0),
    City("beijing", "北京", "110100", 39.904, 116.407, "north", 45.0, 2.0),
    City("dalian", "大连", "210200", 38.914, 121.615, "northeast", 16.0, 1.0),
)

#: The Pearl River Delta core of the Guangdong-Hong Kong-Macao Greater Bay Area.
GREATER_BAY_AREA: Final[tuple[str, ...]] = ("shenzhen", "dongguan", "guangzhou", "foshan")
