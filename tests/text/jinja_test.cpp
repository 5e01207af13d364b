// The Jinja engine feature by feature, with the outputs Python's jinja2 gives under transformers'
// settings (trim_blocks, lstrip_blocks, sandbox); each expected string was checked with jinja2.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "text/jinja/template.h"

namespace mofa::text::jinja {
namespace {

using nlohmann::ordered_json;
using ::testing::HasSubstr;

std::string render(const std::string& source, const ordered_json& vars = ordered_json::object(),
                   const RenderLimits& limits = {}) {
  Dict dict;
  for (const auto& [k, v] : vars.items()) dict.emplace_back(k, Value::from_json(v));
  return Template(source).render(dict, limits);
}

// The message of the InvalidInput that rendering throws.
std::string error_of(const std::string& source, const ordered_json& vars = ordered_json::object(),
                     const RenderLimits& limits = {}) {
  try {
    render(source, vars, limits);
  } catch (const InvalidInput& e) {
    return e.what();
  }
  return "no error";
}

TEST(JinjaWhitespace, TrimBlocksRemovesTheNewlineAfterABlockTag) {
  EXPECT_EQ(render("{% if true %}\nyes\n{% endif %}\nend"), "yes\nend");
}

TEST(JinjaWhitespace, LstripBlocksRemovesIndentBeforeABlockTag) {
  EXPECT_EQ(render("a\n    {% if true %}\n    b\n    {% endif %}\nc"), "a\n    b\nc");
}

TEST(JinjaWhitespace, LstripBlocksLeavesIndentBeforeAnExpression) {
  EXPECT_EQ(render("  {{ 'x' }}"), "  x");
}

TEST(JinjaWhitespace, LstripBlocksNeedsOnlyWhitespaceBeforeTheTag) {
  EXPECT_EQ(render("a {% if true %}b{% endif %}"), "a b");
}

TEST(JinjaWhitespace, MinusStripsAllWhitespaceOnThatSide) {
  EXPECT_EQ(render("a  \n {{- 'b' -}} \n\n c"), "abc");
  EXPECT_EQ(render("a\n\n{%- if true -%}\n\n b {%- endif %}"), "ab");
}

TEST(JinjaWhitespace, PlusDisablesLstripAndTrim) {
  EXPECT_EQ(render("  {%+ if true %}x{% endif +%}\ny"), "  x\ny");
}

TEST(JinjaWhitespace, OneTrailingNewlineIsDropped) {
  EXPECT_EQ(render("hello\n"), "hello");
  EXPECT_EQ(render("hello\n\n"), "hello\n");
}

TEST(JinjaWhitespace, CommentsVanishAndTrimLikeBlocks) {
  EXPECT_EQ(render("a{# note #}b\n  {# line #}\nc"), "ab\nc");
}

TEST(JinjaWhitespace, CarriageReturnsBecomeNewlines) {
  EXPECT_EQ(render("a\r\nb\rc"), "a\nb\nc");
}

TEST(JinjaOutput, PrintsValuesAsPythonDoes) {
  EXPECT_EQ(render("{{ none }}|{{ true }}|{{ False }}|{{ 42 }}|{{ -7 }}"), "None|True|False|42|-7");
  EXPECT_EQ(render("{{ 1.0 }}|{{ 0.5 }}|{{ 1e16 }}|{{ 1e15 }}|{{ 1e-5 }}|{{ 0.1 + 0.2 }}"),
            "1.0|0.5|1e+16|1000000000000000.0|1e-05|0.30000000000000004");
  EXPECT_EQ(render("{{ [1, 'a', none, true, 2.5] }}"), "[1, 'a', None, True, 2.5]");
  EXPECT_EQ(render("{{ (1, 'a') }}|{{ (1,) }}|{{ () }}|{{ (1, 2) == [1, 2] }}"),
            "(1, 'a')|(1,)|()|False");
  EXPECT_EQ(render("{{ {'k': 'v', 'n': [1]} }}"), "{'k': 'v', 'n': [1]}");
  EXPECT_EQ(render("{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'a\\nb'] }}"),
            "[\"it's\", 'say \"hi\"', 'both \\' \"', 'a\\nb']");
}

TEST(JinjaOutput, JsonValuesKeepTheirTypes) {
  EXPECT_EQ(render("{{ x }} {{ y }} {{ z }} {{ w }}",
                   {{"x", 2.0}, {"y", 3}, {"z", nullptr}, {"w", true}}),
            "2.0 3 None True");
}

TEST(JinjaLiterals, StringEscapesFollowPython) {
  EXPECT_EQ(render(R"({{ 'a\tb\\c\'d\"e\x41\u00e9\U0001F600' }})"), "a\tb\\c'd\"eAé😀");
  EXPECT_EQ(render(R"({{ "unknown \q stays" }})"), "unknown \\q stays");
  EXPECT_EQ(render("{{ 'ab' 'cd' }}"), "abcd");
}

TEST(JinjaOperators, ArithmeticFollowsPython) {
  EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 3 / 2 }} {{ 4 / 2 }}"),
            "3 -4 2 -2 1.5 2.0");
  EXPECT_EQ(render("{{ 2 ** 10 }} {{ 1 + 2.5 }} {{ 'ab' * 3 }} {{ [1] + [2] }} {{ -(3) }}"),
            "1024 3.5 ababab [1, 2] -3");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none ~ undefined_name }}"), "a1None");
}

TEST(JinjaOperators, ComparisonsAndMembership) {
  EXPECT_EQ(render("{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }}"),
            "True False True True");
  EXPECT_EQ(
      render("{{ 'el' in 'hello' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }}"),
      "True True True True");
}

TEST(JinjaOperators, AndOrReturnOperandsAndTernaryMayOmitElse) {
  EXPECT_EQ(render("{{ 0 or 'x' }}|{{ 'a' and 'b' }}|{{ '' and 'b' }}|{{ not 0 }}"), "x|b||True");
  EXPECT_EQ(render("{{ 'y' if true else 'n' }}|{{ 'y' if false }}|{{ 'y' if false else 'n' }}"),
            "y||n");
}

TEST(JinjaOperators, TypeErrorsNameBothTypes) {
  EXPECT_THAT(error_of("{{ 'a' + 1 }}"),
              HasSubstr("can only concatenate str (not \"int\") to str"));
  EXPECT_THAT(error_of("{{ 1 / 0 }}"), HasSubstr("division by zero"));
  EXPECT_THAT(error_of("{{ 1 < 'a' }}"),
              HasSubstr("'<' not supported between instances of 'int' and 'str'"));
}

TEST(JinjaUndefined, BehavesLikeJinja2Undefined) {
  EXPECT_EQ(render("[{{ missing }}]{{ missing is defined }}{{ missing is undefined }}"),
            "[]FalseTrue");
  EXPECT_EQ(
      render("{{ d.nokey is defined }}|{{ d['nokey'] }}|{{ missing|length }}", {{"d", {{"a", 1}}}}),
      "False||0");
  EXPECT_EQ(render("{% for x in missing %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{{ [1][5] is defined }}|{{ none.attr is defined }}"), "False|False");
}

TEST(JinjaUndefined, UsingAnUndefinedValueIsAnError) {
  EXPECT_THAT(error_of("{{ missing.attr }}"), HasSubstr("'missing' is undefined"));
  EXPECT_THAT(error_of("{{ d.a.b }}", {{"d", ordered_json::object()}}),
              HasSubstr("'dict object' has no attribute 'a'"));
  EXPECT_THAT(error_of("{{ missing + 1 }}"), HasSubstr("'missing' is undefined"));
  EXPECT_THAT(error_of("{{ missing() }}"), HasSubstr("'missing' is undefined"));
}

TEST(JinjaFor, LoopVariables) {
  EXPECT_EQ(
      render("{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
             "{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}"),
      "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;");
  EXPECT_EQ(render("{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }}"
                   "{{ loop.cycle('a', 'b') }} {% endfor %}"),
            "-2a 1-3b 2-a ");
}

TEST(JinjaFor, FilterClauseCountsOnlyKeptItems) {
  EXPECT_EQ(render("{% for x in [1, 2, 3, 4] if x is even %}{{ x }}/{{ loop.length }}"
                   "{% if not loop.last %},{% endif %}{% endfor %}"),
            "2/2,4/2");
}

TEST(JinjaFor, BreakContinueAndUnpacking) {
  EXPECT_EQ(render("{% for x in range(10) %}{% if x == 1 %}{% continue %}{% endif %}"
                   "{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
            "023");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
                   {{"d", {{"b", 1}, {"a", 2}}}}),
            "b=1;a=2;");
  EXPECT_EQ(render("{% for k in d %}{{ k }}{% endfor %}", {{"d", {{"z", 1}, {"y", 2}}}}), "zy");
}

TEST(JinjaSet, LoopScopesDoNotLeakButNamespacesDo) {
  EXPECT_EQ(render("{% set x = 5 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{% endfor %}{{ x }}"),
            "555");
  EXPECT_EQ(
      render("{% set ns = namespace(n=0, s='') %}{% for i in [1, 2, 3] %}"
             "{% set ns.n = ns.n + i %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }} {{ ns.s }}"),
      "6 123");
  EXPECT_EQ(render("{% if true %}{% set y = 'in-if' %}{% endif %}{{ y }}"), "in-if");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ b }}{{ a }}"), "21");
  EXPECT_EQ(render("{% set block %}x{{ 1 + 1 }}y{% endset %}[{{ block }}]"), "[x2y]");
}

TEST(JinjaSet, AssigningAttributesOfNonNamespacesFails) {
  EXPECT_THAT(error_of("{% set d = {} %}{% set d.x = 1 %}"), HasSubstr("non-namespace"));
}

TEST(JinjaMacro, DefaultsKeywordsVarargsAndCaller) {
  const std::string macros =
      "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}";
  EXPECT_EQ(render(macros + "{{ greet('Ann') }} {{ greet('Bo', greeting='Hi') }}"),
            "Hello, Ann! Hi, Bo!");
  EXPECT_EQ(
      render("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}"),
      "1(2,){'k': 3}");
  EXPECT_EQ(
      render("{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}in{% endcall %}"),
      "[in]");
}

TEST(JinjaMacro, RunawayRecursionHitsTheCallLimit) {
  EXPECT_THAT(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"),
              HasSubstr("nested deeper than"));
}

TEST(JinjaFilters, Strings) {
  EXPECT_EQ(
      render("{{ '  hi  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'aBc'|upper }}|{{ 'aBc'|lower }}"),
      "hi|hi|ABC|abc");
  EXPECT_EQ(render("{{ 'hello wORLD-foo'|title }}|{{ 'hELLO'|capitalize }}|{{ 'aaa'|replace('a', "
                   "'b', 2) }}"),
            "Hello World-Foo|Hello|bba");
  EXPECT_EQ(render("{{ 'a\nb\n\nc'|indent(2) }}|{{ 'x\ny'|indent(2, true) }}"),
            "a\n  b\n\n  c|  x\n  y");
  EXPECT_EQ(render("{{ 'one two  three'|wordcount }}|{{ 'héllo'|length }}|{{ '<a>'|e }}"),
            "3|5|&lt;a&gt;");
}

TEST(JinjaFilters, Sequences) {
  EXPECT_EQ(render("{{ [3, 1, 2]|sort }}|{{ ['b', 'A', 'a']|sort }}|{{ [1, 2]|reverse|list }}"),
            "[1, 2, 3]|['A', 'a', 'b']|[2, 1]");
  EXPECT_EQ(
      render("{{ ['b', 'A', 'a', 'b']|unique|list }}|{{ [1, 2, 3]|first }}|{{ [1, 2, 3]|last }}"),
      "['b', 'A']|1|3");
  EXPECT_EQ(
      render("{{ [1, 2, 3]|join(', ') }}|{{ 'abc'|list }}|{{ [1, 2, 3]|sum }}|{{ [4, 9]|max }}"),
      "1, 2, 3|['a', 'b', 'c']|6|9");
  EXPECT_EQ(render("{{ ms|map(attribute='role')|join(',') }}|{{ ms|selectattr('role', 'equalto', "
                   "'user')|list|length }}"
                   "|{{ ms|rejectattr('role', 'eq', 'user')|map(attribute='role')|first }}",
                   {{"ms", {{{"role", "user"}}, {{"role", "assistant"}}, {{"role", "user"}}}}}),
            "user,assistant,user|2|assistant");
  EXPECT_EQ(render("{{ [1, 2, 3, 4]|select('odd')|list }}|{{ ['a', '', 'b']|select|list }}|{{ [1, "
                   "2]|map('string')|list }}"),
            "[1, 3]|['a', 'b']|['1', '2']");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2}|dictsort }}|{{ {'x': 1}|items|list }}"),
            "[('a', 2), ('b', 1)]|[('x', 1)]");
}

TEST(JinjaFilters, NumbersAndDefaults) {
  EXPECT_EQ(render("{{ '42'|int }}|{{ '4.7'|int }}|{{ 'x'|int(7) }}|{{ 3|float }}|{{ "
                   "2.567|round(2) }}|{{ 2.5|round }}"),
            "42|4|7|3.0|2.57|2.0");
  EXPECT_EQ(render("{{ missing|default('d') }}|{{ ''|default('d') }}|{{ ''|d('d', true) }}|{{ "
                   "none|string }}"),
            "d||d|None");
  EXPECT_EQ(render("{{ -3|abs }}|{{ 5|string ~ 'x' }}|{{ 3.5|round }}|{{ 2.675|round(2) }}"),
            "3|5x|4.0|2.67");
}

TEST(JinjaFilters, EdgeCasesFollowJinja2) {
  // int() of a str is base 10 only; attr() never reads dict items; upper() maps sharp s to SS.
  EXPECT_EQ(
      render(
          "{{ '0x1A'|int }}|{{ ' 12 '|int }}|{{ '1e3'|float }}|{{ {'a': 1}|attr('a') is defined }}"
          "|{{ {'a': 1}|attr('items') is defined }}|{{ 'straße'|upper }}"),
      "0|12|1000.0|False|True|STRASSE");
}

TEST(JinjaFilters, TojsonMatchesTransformers) {
  ordered_json v = {{"z", 1}, {"a", {1.0, "é\"\n", nullptr, true}}};
  EXPECT_EQ(render("{{ v|tojson }}", {{"v", v}}), R"({"z": 1, "a": [1.0, "é\"\n", null, true]})");
  EXPECT_EQ(
      render("{{ v|tojson(indent=2) }}", {{"v", {{"a", {1, 2}}, {"b", ordered_json::object()}}}}),
      "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}");
  EXPECT_EQ(render("{{ v|tojson(separators=(',', ':'), sort_keys=true) }}", {{"v", v}}),
            R"({"a":[1.0,"é\"\n",null,true],"z":1})");
  EXPECT_THAT(error_of("{{ missing|tojson }}"), HasSubstr("not JSON serializable"));
}

TEST(JinjaTests, TypeAndValueTests) {
  EXPECT_EQ(
      render("{{ 'a' is string }}{{ 1 is number }}{{ 1.5 is float }}{{ 1 is integer }}"
             "{{ {} is mapping }}{{ [] is iterable }}{{ 'a' is sequence }}{{ none is none }}"),
      "TrueTrueTrueTrueTrueTrueTrueTrue");
  EXPECT_EQ(
      render("{{ true is true }}{{ 0 is false }}{{ false is boolean }}{{ 3 is odd }}{{ 4 is even }}"
             "{{ 9 is divisibleby 3 }}{{ 2 is in [1, 2] }}{{ 'a' is equalto 'a' }}{{ 1 is not "
             "sameas 2 }}"),
      "TrueFalseTrueTrueTrueTrueTrueTrueTrue");
}

TEST(JinjaMethods, StringMethods) {
  EXPECT_EQ(
      render("{{ '  x  '.strip() }}|{{ '\\n\\nx\\n'.lstrip('\\n') }}|{{ 'x--'.rstrip('-') }}"),
      "x|x\n|x");
  EXPECT_EQ(render("{{ 'a,b,,c'.split(',') }}|{{ '  a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}"),
            "['a', 'b', '', 'c']|['a', 'b']|['a', 'b c']");
  EXPECT_EQ(
      render("{{ 'hello'.startswith('he') }}{{ 'hello'.endswith(('x', 'lo')) }}"
             "{{ 'Hello World'.upper() }}{{ 'hello world'.title() }}{{ 'aXa'.replace('a', 'b') }}"),
      "TrueTrueHELLO WORLDHello WorldbXb");
  EXPECT_EQ(render("{{ 'abc'.find('c') }}{{ 'abc'.find('z') }}{{ '-'.join(['a', 'b']) }}{{ '{} and "
                   "{x}'.format(1, x=2) }}"),
            "2-1a-b1 and 2");
}

TEST(JinjaMethods, DictMethodsAndAttributeVersusItem) {
  ordered_json vars = {{"d", {{"a", 1}, {"items", "key"}}}};
  EXPECT_EQ(render("{{ d.keys()|list }}{{ d.values()|list }}{{ d.get('a') }}{{ d.get('zz', 'dflt') "
                   "}}{{ d.get('zz') }}",
                   vars),
            "['a', 'items'][1, 'key']1dfltNone");
  // Attribute syntax finds the method first, subscript syntax the key first, as in jinja2.
  EXPECT_EQ(render("{{ d['items'] }}|{{ d.items is defined }}", vars), "key|True");
}

TEST(JinjaMethods, SandboxRefusesMutation) {
  EXPECT_THAT(error_of("{% set l = [] %}{{ l.append(1) }}"),
              HasSubstr("access to attribute 'append' of 'list' object is unsafe"));
  EXPECT_THAT(error_of("{% set d = {} %}{{ d.update({'a': 1}) }}"),
              HasSubstr("access to attribute 'update' of 'dict' object is unsafe"));
}

TEST(JinjaSlicing, ListsAndStringsByCodePoint) {
  EXPECT_EQ(render("{{ [1, 2, 3, 4][1:] }}{{ [1, 2, 3][::-1] }}{{ [1, 2, 3, 4][-2:] }}{{ [1, 2, 3, "
                   "4, 5][::2] }}"),
            "[2, 3, 4][3, 2, 1][3, 4][1, 3, 5]");
  EXPECT_EQ(render("{{ 'héllo'[1:3] }}|{{ 'abc'[::-1] }}|{{ 'abc'[-1] }}|{{ 'abc'[:-1] }}"),
            "él|cba|c|ab");
}

TEST(JinjaStatements, GenerationBlockRendersItsBody) {
  EXPECT_EQ(render("a{% generation %}b{{ 1 }}{% endgeneration %}c"), "ab1c");
}

TEST(JinjaStatements, RawBlockKeepsTagsAsText) {
  EXPECT_EQ(render("a{% raw %}{{ x }}{% if %}{% endraw %}b"), "a{{ x }}{% if %}b");
  EXPECT_EQ(render("{%- raw -%}  x  {%- endraw %}\ny"), "xy");
  EXPECT_THAT(error_of("{% raw %}never closed"), HasSubstr("missing end of raw directive"));
}

TEST(JinjaStatements, FilterBlock) {
  EXPECT_EQ(render("{% filter upper %}abc{% endfilter %}"), "ABC");
}

TEST(JinjaErrors, SyntaxErrorsNameTheLine) {
  EXPECT_THAT(error_of("a\n{% if x %}"), HasSubstr("line 2"));
  EXPECT_THAT(error_of("{% if x %}"), HasSubstr("expected 'elif'"));
  EXPECT_THAT(error_of("{{ 'abc }}"), HasSubstr("unterminated string"));
  EXPECT_THAT(error_of("{% frobnicate %}"), HasSubstr("unknown tag 'frobnicate'"));
  EXPECT_THAT(error_of("{{ (1 }}"), HasSubstr("syntax error"));
  EXPECT_THAT(error_of("{% break %}"), HasSubstr("outside of a loop"));
}

TEST(JinjaErrors, RuntimeErrorsNameTheLine) {
  std::string msg = error_of("line1\n\n{{ 'a' + 1 }}");
  EXPECT_THAT(msg, HasSubstr("(line 3)"));
  EXPECT_THAT(error_of("{{ x|nosuchfilter }}"), HasSubstr("no filter named 'nosuchfilter'"));
  EXPECT_THAT(error_of("{{ x is nosuchtest }}"), HasSubstr("no test named 'nosuchtest'"));
}

TEST(JinjaLimits, HostileTemplatesStopWithAnError) {
  std::string deep(5000, '(');
  EXPECT_THAT(error_of("{{ " + deep + "1" + std::string(5000, ')') + " }}"),
              HasSubstr("nested deeper"));
  std::string nested;
  for (int i = 0; i < 500; ++i) nested += "{% if true %}";
  EXPECT_THAT(error_of(nested), HasSubstr("nested deeper"));
  EXPECT_THAT(error_of("{% for i in range(1000000000) %}{% endfor %}"),
              HasSubstr("exceeds the limit"));
  RenderLimits small;
  small.max_loop_iterations = 1000;
  EXPECT_THAT(error_of("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}",
                       ordered_json::object(), small),
              HasSubstr("loop iterations"));
  small.max_output_bytes = 100;
  EXPECT_THAT(error_of("{% for i in range(50) %}abcd{% endfor %}", ordered_json::object(), small),
              HasSubstr("output exceeds"));
  EXPECT_THAT(error_of("{{ 'x' * 1000000000000 }}"), HasSubstr("exceeds the output limit"));
}

TEST(JinjaLimits, SelfReferentialNamespaceDoesNotOverflowTheStack) {
  EXPECT_THAT(error_of("{% set ns = namespace(a=1) %}{% set ns.self = ns %}{{ ns }}"),
              HasSubstr("nested deeper"));
}

TEST(JinjaValues, DeeplyNestedJsonIsRefused) {
  ordered_json deep = 1;
  for (int i = 0; i < 1000; ++i) deep = ordered_json::array({deep});
  EXPECT_THROW(Value::from_json(deep), InvalidInput);
}

}  // namespace
}  // namespace mofa::text::jinja
