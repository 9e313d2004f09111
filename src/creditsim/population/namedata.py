"""Name inventories for synthetic residents.

Surname shares: the top-10 shares follow the Ministry of Public Security's
household-register ranking as widely reported (王 李 张 刘 陈 杨 黄 赵 吴 周, each
roughly 7%, 7%, 6.7%, 5.1%, 4.6%, 3.2%, 2.5%, 2.2%, 2.1%, 1.9%; see
sources#surnames-2007 and sources#surnames-2020); ranks 11–100 and the tail are an
assumption (a smooth decline so that the top 100 cover about 85% of people,
sources#surnames-2019).

Given-name characters and their weights are an assumption: common characters
seen in published lists of frequent names; the weights are Zipf-like so that the
most common full names (e.g. 张伟, 王伟, 王芳, 李伟) reach a share of about 0.02%,
the order of the MPS count of ~290,000 people named 张伟 out of 1.4 billion
(sources#names-2007).

Each character carries its toneless pinyin; homophones (same pinyin) are what a
clerk most often types by mistake with a pinyin input method, so the records
stage draws name typos from the homophone groups built here.
"""

from __future__ import annotations

# (surname, pinyin, share in percent)
SURNAMES: tuple[tuple[str, str, float], ...] = (
    ("王", "wang", 7.12), ("李", "li", 7.00), ("张", "zhang", 6.74), ("刘", "liu", 5.10),
    ("陈", "chen", 4.61), ("杨", "yang", 3.22), ("黄", "huang", 2.45), ("赵", "zhao", 2.19),
    ("吴", "wu", 2.05), ("周", "zhou", 1.93), ("徐", "xu", 1.67), ("孙", "sun", 1.54),
    ("马", "ma", 1.49), ("朱", "zhu", 1.41), ("胡", "hu", 1.31), ("郭", "guo", 1.16),
    ("何", "he", 1.13), ("林", "lin", 1.12), ("高", "gao", 1.10), ("罗", "luo", 1.08),
    ("郑", "zheng", 1.00), ("梁", "liang", 0.98), ("谢", "xie", 0.83), ("宋", "song", 0.78),
    ("唐", "tang", 0.76), ("许", "xu", 0.71), ("韩", "han", 0.70), ("邓", "deng", 0.69),
    ("冯", "feng", 0.68), ("曹", "cao", 0.66), ("彭", "peng", 0.64), ("曾", "zeng", 0.62),
    ("肖", "xiao", 0.61), ("田", "tian", 0.60), ("董", "dong", 0.59), ("潘", "pan", 0.58),
    ("袁", "yuan", 0.57), ("蔡", "cai", 0.56), ("蒋", "jiang", 0.55), ("余", "yu", 0.54),
    ("于", "yu", 0.53), ("杜", "du", 0.52), ("叶", "ye", 0.51), ("程", "cheng", 0.50),
    ("魏", "wei", 0.49), ("苏", "su", 0.48), ("吕", "lv", 0.47), ("丁", "ding", 0.46),
    ("任", "ren", 0.45), ("卢", "lu", 0.44), ("姚", "yao", 0.43), ("沈", "shen", 0.42),
    ("钟", "zhong", 0.41), ("姜", "jiang", 0.40), ("崔", "cui", 0.39), ("谭", "tan", 0.38),
    ("陆", "lu", 0.37), ("范", "fan", 0.36), ("汪", "wang", 0.35), ("廖", "liao", 0.34),
    ("石", "shi", 0.33), ("金", "jin", 0.32), ("韦", "wei", 0.31), ("贾", "jia", 0.30),
    ("夏", "xia", 0.29), ("付", "fu", 0.28), ("方", "fang", 0.27), ("邹", "zou", 0.26),
    ("熊", "xiong", 0.25), ("白", "bai", 0.25), ("孟", "meng", 0.24), ("秦", "qin", 0.24),
    ("邱", "qiu", 0.23), ("侯", "hou", 0.23), ("江", "jiang", 0.22), ("尹", "yin", 0.22),
    ("薛", "xue", 0.21), ("闫", "yan", 0.21), ("段", "duan", 0.20), ("雷", "lei", 0.20),
    ("龙", "long", 0.19), ("黎", "li", 0.19), ("史", "shi", 0.18), ("陶", "tao", 0.18),
    ("贺", "he", 0.17), ("毛", "mao", 0.17), ("郝", "hao", 0.16), ("顾", "gu", 0.16),
    ("龚", "gong", 0.15), ("邵", "shao", 0.15), ("万", "wan", 0.14), ("覃", "qin", 0.14),
    ("武", "wu", 0.13), ("钱", "qian", 0.13), ("戴", "dai", 0.12), ("严", "yan", 0.12),
    ("莫", "mo", 0.12), ("孔", "kong", 0.11), ("向", "xiang", 0.11), ("常", "chang", 0.11),
)

# Less common surnames sharing the remaining ~14% (assumption: Zipf-like tail).
TAIL_SURNAMES: tuple[tuple[str, str], ...] = (
    ("汤", "tang"), ("康", "kang"), ("易", "yi"), ("乔", "qiao"), ("赖", "lai"), ("文", "wen"),
    ("施", "shi"), ("洪", "hong"), ("辛", "xin"), ("柴", "chai"), ("牛", "niu"), ("温", "wen"),
    ("芦", "lu"), ("季", "ji"), ("俞", "yu"), ("章", "zhang"), ("鲁", "lu"), ("葛", "ge"),
    ("伍", "wu"), ("申", "shen"), ("尤", "you"), ("毕", "bi"), ("聂", "nie"), ("焦", "jiao"),
    ("向", "xiang"), ("柳", "liu"), ("邢", "xing"), ("岳", "yue"), ("齐", "qi"), ("梅", "mei"),
    ("莫", "mo"), ("庞", "pang"), ("耿", "geng"), ("关", "guan"), ("蓝", "lan"), ("单", "shan"),
    ("殷", "yin"), ("包", "bao"), ("安", "an"), ("左", "zuo"), ("祝", "zhu"), ("纪", "ji"),
    ("舒", "shu"), ("屈", "qu"), ("阮", "ruan"), ("倪", "ni"), ("靳", "jin"), ("滕", "teng"),
    ("项", "xiang"), ("路", "lu"), ("苗", "miao"), ("卜", "bu"), ("宁", "ning"), ("樊", "fan"),
    ("兰", "lan"), ("凌", "ling"), ("霍", "huo"), ("虞", "yu"), ("裴", "pei"), ("管", "guan"),
    ("翁", "weng"), ("荣", "rong"), ("车", "che"), ("全", "quan"), ("穆", "mu"), ("甘", "gan"),
    ("邬", "wu"), ("简", "jian"), ("饶", "rao"), ("房", "fang"), ("成", "cheng"), ("欧", "ou"),
    ("戚", "qi"), ("栾", "luan"), ("边", "bian"), ("鲍", "bao"), ("晏", "yan"), ("柏", "bai"),
    ("隋", "sui"), ("冉", "ran"), ("谷", "gu"), ("巩", "gong"), ("卓", "zhuo"), ("蒙", "meng"),
    ("池", "chi"), ("乐", "yue"), ("桂", "gui"), ("娄", "lou"), ("竺", "zhu"), ("刁", "diao"),
    ("欧阳", "ouyang"), ("司马", "sima"), ("上官", "shangguan"), ("诸葛", "zhuge"),
    ("东方", "dongfang"), ("皇甫", "huangfu"), ("尉迟", "yuchi"), ("公孙", "gongsun"),
)

# Given-name characters: (char, pinyin, weight for men, weight for women).
GIVEN_CHARS: tuple[tuple[str, str, float, float], ...] = (
    ("伟", "wei", 40, 2), ("强", "qiang", 25, 0), ("磊", "lei", 24, 1), ("军", "jun", 24, 1),
    ("勇", "yong", 22, 0), ("杰", "jie", 22, 2), ("涛", "tao", 20, 0), ("斌", "bin", 16, 0),
    ("超", "chao", 18, 1), ("明", "ming", 20, 3), ("刚", "gang", 16, 0), ("平", "ping", 12, 8),
    ("辉", "hui", 16, 1), ("鹏", "peng", 15, 0), ("华", "hua", 14, 10), ("飞", "fei", 14, 3),
    ("鑫", "xin", 12, 4), ("波", "bo", 13, 0), ("宇", "yu", 18, 4), ("浩", "hao", 18, 0),
    ("凯", "kai", 12, 0), ("健", "jian", 12, 0), ("俊", "jun", 12, 0), ("帆", "fan", 8, 4),
    ("帅", "shuai", 8, 0), ("旭", "xu", 10, 1), ("宁", "ning", 8, 6), ("龙", "long", 10, 0),
    ("林", "lin", 9, 5), ("阳", "yang", 12, 4), ("建", "jian", 16, 0), ("国", "guo", 16, 0),
    ("东", "dong", 12, 1), ("文", "wen", 12, 6), ("志", "zhi", 14, 0), ("海", "hai", 12, 1),
    ("亮", "liang", 10, 0), ("峰", "feng", 12, 0), ("兵", "bing", 10, 0), ("成", "cheng", 8, 0),
    ("晨", "chen", 9, 8), ("博", "bo", 10, 0), ("轩", "xuan", 10, 2), ("睿", "rui", 9, 3),
    ("子", "zi", 14, 12), ("泽", "ze", 10, 0), ("昊", "hao", 8, 0), ("然", "ran", 8, 8),
    ("天", "tian", 9, 1), ("翔", "xiang", 8, 0), ("宏", "hong", 9, 0), ("毅", "yi", 7, 0),
    ("新", "xin", 8, 2), ("春", "chun", 6, 8), ("庆", "qing", 8, 2), ("中", "zhong", 7, 0),
    ("德", "de", 7, 0), ("力", "li", 6, 0), ("金", "jin", 7, 4), ("永", "yong", 8, 1),
    ("振", "zhen", 6, 0), ("家", "jia", 7, 2), ("嘉", "jia", 6, 6), ("一", "yi", 7, 5),
    ("辰", "chen", 7, 2), ("铭", "ming", 7, 0), ("思", "si", 5, 9), ("奕", "yi", 6, 2),
    ("宸", "chen", 5, 0), ("航", "hang", 6, 0), ("哲", "zhe", 6, 0), ("锦", "jin", 4, 3),
    ("芳", "fang", 0, 30), ("娜", "na", 0, 26), ("敏", "min", 3, 24), ("静", "jing", 0, 26),
    ("丽", "li", 0, 26), ("艳", "yan", 0, 22), ("娟", "juan", 0, 18), ("霞", "xia", 0, 18),
    ("秀", "xiu", 0, 16), ("英", "ying", 2, 18), ("玲", "ling", 0, 16), ("燕", "yan", 0, 16),
    ("慧", "hui", 0, 14), ("婷", "ting", 0, 16), ("雪", "xue", 0, 12), ("琳", "lin", 0, 10),
    ("晶", "jing", 0, 10), ("洁", "jie", 0, 12), ("红", "hong", 2, 16), ("梅", "mei", 0, 14),
    ("莉", "li", 0, 10), ("兰", "lan", 0, 12), ("萍", "ping", 0, 12), ("颖", "ying", 0, 10),
    ("倩", "qian", 0, 10), ("琴", "qin", 0, 8), ("欣", "xin", 1, 12), ("雯", "wen", 0, 8),
    ("佳", "jia", 3, 12), ("怡", "yi", 0, 12), ("璐", "lu", 0, 6), ("悦", "yue", 0, 8),
    ("涵", "han", 3, 12), ("萱", "xuan", 0, 9), ("彤", "tong", 0, 8), ("诗", "shi", 0, 8),
    ("梓", "zi", 5, 6), ("雨", "yu", 2, 12), ("琪", "qi", 0, 8), ("桐", "tong", 2, 5),
    ("可", "ke", 1, 6), ("馨", "xin", 0, 8), ("瑶", "yao", 0, 7), ("妍", "yan", 0, 7),
    ("蕾", "lei", 0, 6), ("薇", "wei", 0, 6), ("茜", "qian", 0, 4), ("月", "yue", 0, 6),
    ("凤", "feng", 0, 8), ("玉", "yu", 1, 12), ("桂", "gui", 1, 8), ("淑", "shu", 0, 8),
    ("翠", "cui", 0, 6), ("荣", "rong", 3, 6), ("秋", "qiu", 1, 6), ("云", "yun", 3, 8),
)

# Characters used only by typists' mistakes: homophones of inventory characters
# (toneless pinyin), so a typo can yield a string no resident carries.
TYPO_CHARS: tuple[tuple[str, str], ...] = (
    ("玮", "wei"), ("炜", "wei"), ("卫", "wei"), ("蔷", "qiang"), ("垒", "lei"), ("君", "jun"),
    ("永", "yong"), ("洁", "jie"), ("韬", "tao"), ("彬", "bin"), ("朝", "chao"), ("铭", "ming"),
    ("钢", "gang"), ("萍", "ping"), ("晖", "hui"), ("朋", "peng"), ("骅", "hua"), ("菲", "fei"),
    ("馨", "xin"), ("博", "bo"), ("玉", "yu"), ("皓", "hao"), ("恺", "kai"), ("剑", "jian"),
    ("峻", "jun"), ("凡", "fan"), ("煦", "xu"), ("凝", "ning"), ("隆", "long"), ("霖", "lin"),
    ("洋", "yang"), ("坚", "jian"), ("果", "guo"), ("冬", "dong"), ("雯", "wen"), ("智", "zhi"),
    ("凯", "kai"), ("良", "liang"), ("锋", "feng"), ("冰", "bing"), ("诚", "cheng"), ("辰", "chen"),
    ("萱", "xuan"), ("瑞", "rui"), ("紫", "zi"), ("择", "ze"), ("冉", "ran"), ("添", "tian"),
    ("祥", "xiang"), ("鸿", "hong"), ("义", "yi"), ("欣", "xin"), ("纯", "chun"), ("青", "qing"),
    ("忠", "zhong"), ("得", "de"), ("立", "li"), ("锦", "jin"), ("勇", "yong"), ("真", "zhen"),
    ("佳", "jia"), ("依", "yi"), ("臣", "chen"), ("明", "ming"), ("斯", "si"), ("毅", "yi"),
    ("晨", "chen"), ("杭", "hang"), ("喆", "zhe"), ("瑾", "jin"), ("方", "fang"), ("纳", "na"),
    ("民", "min"), ("婧", "jing"), ("力", "li"), ("燕", "yan"), ("鹃", "juan"), ("侠", "xia"),
    ("绣", "xiu"), ("莹", "ying"), ("龄", "ling"), ("艳", "yan"), ("惠", "hui"), ("庭", "ting"),
    ("学", "xue"), ("林", "lin"), ("静", "jing"), ("杰", "jie"), ("宏", "hong"), ("美", "mei"),
    ("丽", "li"), ("岚", "lan"), ("平", "ping"), ("英", "ying"), ("茜", "qian"), ("芹", "qin"),
    ("新", "xin"), ("文", "wen"), ("家", "jia"), ("宜", "yi"), ("露", "lu"), ("月", "yue"),
    ("含", "han"), ("轩", "xuan"), ("桐", "tong"), ("师", "shi"), ("子", "zi"), ("宇", "yu"),
    ("奇", "qi"), ("彤", "tong"), ("克", "ke"), ("鑫", "xin"), ("遥", "yao"), ("研", "yan"),
    ("磊", "lei"), ("伟", "wei"), ("倩", "qian"), ("悦", "yue"), ("峰", "feng"), ("雨", "yu"),
    ("贵", "gui"), ("书", "shu"), ("萃", "cui"), ("容", "rong"), ("球", "qiu"), ("芸", "yun"),
    ("旺", "wang"), ("黎", "li"), ("章", "zhang"), ("留", "liu"), ("晨", "chen"), ("扬", "yang"),
)
