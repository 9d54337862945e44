from rlm.core.parsing import find_code_blocks, find_final, literal_text


def test_repl_and_python_blocks_in_order_other_languages_ignored():
    text = (
        "First\n```repl\na = 1\n```\nthen\n```python\nb = a + 1\n```\n"
        '```json\n{"x": 1}\n```\n```py\nc = 3\n```'
    )
    assert find_code_blocks(text) == ["a = 1", "b = a + 1", "c = 3"]


def test_block_containing_backticks_in_a_string():
    text = "```repl\ns = '```'\nprint(s)\n```"
    assert find_code_blocks(text) == ["s = '```'\nprint(s)"]


def test_closing_fence_glued_to_code_is_still_a_block():
    assert find_code_blocks("```repl\nprint(1)```") == ["print(1)"]


def test_no_blocks():
    assert find_code_blocks("just talking, FINAL(3)") == []


def test_final_inside_code_block_is_not_prose_final():
    assert find_final("```repl\nFINAL(42)\n```") is None


def test_final_with_text_before_and_after():
    marker = find_final("I counted them.\nFINAL(42)\nHope this helps!")
    assert marker is not None and (marker.kind, marker.inner) == ("FINAL", "42")


def test_final_spanning_lines_with_parentheses_and_quotes():
    marker = find_final('Done.\nFINAL(The answer is "f(x)" (see part 2),\nand that is all)')
    assert marker is not None
    assert marker.inner == 'The answer is "f(x)" (see part 2),\nand that is all'


def test_final_with_apostrophe_and_parentheses():
    marker = find_final("FINAL(It's blue (mostly))")
    assert marker is not None and marker.inner == "It's blue (mostly)"


def test_final_var_with_quotes():
    marker = find_final("FINAL_VAR('result')")
    assert marker is not None and (marker.kind, marker.inner) == ("FINAL_VAR", "'result'")


def test_final_in_prose_that_is_only_an_example_is_ignored():
    text = "When I am done I will write FINAL(answer) or use `FINAL_VAR(x)`.\n```repl\nx=1\n```"
    assert find_final(text) is None


def test_markdown_decorated_final_counts():
    marker = find_final("**FINAL(7)**")
    assert marker is not None and marker.inner == "7"


def test_first_final_wins():
    marker = find_final("FINAL(a)\nFINAL(b)")
    assert marker is not None and marker.inner == "a"


def test_unclosed_final_takes_the_rest():
    marker = find_final("FINAL(the answer is 5")
    assert marker is not None and marker.inner == "the answer is 5"


def test_literal_text():
    assert literal_text('"Blue"') == "Blue"
    assert literal_text("'a (b'") == "a (b"
    assert literal_text("15") is None
    assert literal_text('"a" + "b"') is None
