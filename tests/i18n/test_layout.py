"""Text in columns where a CJK character takes two (nethelpers/i18n/layout.py): English as before."""

import textwrap

import pytest

from nethelpers.i18n import layout

ENGLISH = ("the packet's path (numbered hop by hop): a longer text that the tracer and the explorer wrap "
           "into lines of a given width, word by word")
CHINESE = "数据包的路径（逐跳编号）：myhost 上的 web1 是一个进程；app1、app2 各有自己的网络命名空间，互不相干。"


def test_a_cjk_character_takes_two_columns():
    assert layout.width("veth1") == 5 and layout.width("网桥 br0") == 8
    assert layout.ljust("网桥", 6) == "网桥  " and layout.rjust("网桥", 6) == "  网桥"


@pytest.mark.parametrize("columns", [20, 40, 72])
def test_english_wraps_as_textwrap_does(columns):
    assert layout.wrap(ENGLISH, columns, "  ", "    ") == textwrap.wrap(ENGLISH, columns, initial_indent="  ",
                                                                       subsequent_indent="    ")


@pytest.mark.parametrize("columns", [16, 30, 50])
def test_chinese_wraps_by_columns_and_keeps_punctuation_with_its_word(columns):
    lines = layout.wrap(CHINESE, columns)
    assert "".join(lines).replace(" ", "") == CHINESE.replace(" ", "")
    # a closing mark may hang past the edge rather than start a line (kinsoku)
    assert all(layout.width(line) <= columns or (layout.width(line[:-1]) <= columns and line[-1] in "，。、；：？！）")
               for line in lines)
    assert not any(line[0] in "，。、；：？！）" for line in lines[1:])
    assert not any(line[-1] in "（" for line in lines)
