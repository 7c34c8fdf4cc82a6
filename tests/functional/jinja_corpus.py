"""Synthetic Jinja2 templates covering every construct and edge case that
LAVA's device templates use (lava-protocols.md §8.3) and the engine
supports. Each case: (name, {template file: source}, context). The case
renders devices/<name>.jinja2 (the first file) with the others as
device-types/. Expected output: Debian's python3-jinja2, at test time."""

CASES = []


def case(name, main, context=None, **types):
    files = {"main": main}
    files.update({k.replace("__", "-") + ".jinja2": v for k, v in types.items()})
    CASES.append((name, files, context or {}))


# ---- whitespace: trim_blocks, whitespace control, newlines
case("trim-blocks", "a\n{% if true %}\nb\n{% endif %}\nc\n")
case("no-trim-after-print", "{{ 'x' }}\ny\n")
case("strip-before-and-after", "a  \n  {%- if true -%}  \n  b  {%- endif %}\nc")
case("print-strip", "a {{- 1 -}} b\n{{ 2 -}}\n   c")
case("comments", "a{# hidden #}b\n{# line comment #}\nc{#- strip -#}   d\n")
case("plus-keeps-newline", "a\n{% if true +%}\nb\n{% endif %}\n")
case("trailing-newline-dropped", "x\n\n")
case("crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc\r\n")
case("raw", "{% raw %}{{ not evaluated }} {% if %}{% endraw %}\n{{ 1 }}")
case("raw-strip", "x  {%- raw -%}  {{ y }}  {%- endraw -%}  z")

# ---- literals and repr printing
case("literals", "{{ [1, 'a', \"b\", 2.5, True, None, false] }}|{{ {'k': 'v', 1: [2]} }}|"
     "{{ (1,) }}|{{ () }}|{{ (1, 2) }}|{{ [] }}|{{ {} }}")
case("floats", "{{ 0.1 }} {{ 1.0 }} {{ 1.5e3 }} {{ 1e20 }} {{ 1e-5 }} {{ 3 / 2 }} {{ 10 / 5 }} "
     "{{ 1_000 }} {{ 0x1F }} {{ 1e16 }} {{ 123456789.0 }} {{ -0.5 }}")
case("string-repr", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\there', 'back\\\\slash', "
     "'new\\nline', 'caf\u00e9', 'ctl\\x01'] }}")
case("string-escapes", "{{ 'a\\tb' }}|{{ \"q\\\"q\" }}|{{ 'u\\u00e9' }}|{{ 'adj' 'acent' }}|"
     "{{ '\\d+' }}")
case("booleans", "{{ True }} {{ true }} {{ False }} {{ none }} {{ None }}")

# ---- variables, undefined and default
case("undefined-prints-empty", "[{{ missing }}][{{ missing ~ 'x' }}][{{ [missing] }}]")
case("default", "{{ missing | default('d') }} {{ nothing | default('d') }} "
     "{{ empty | default('d') }} {{ empty | default('d', true) }} {{ zero | d(7) }} "
     "{{ missing | default }}|{{ missing | default(none) }}",
     {"nothing": None, "empty": "", "zero": 0})
case("undefined-tests", "{{ missing is defined }} {{ missing is undefined }} {{ x is defined }} "
     "{{ n is none }} {{ missing is none }}", {"x": 1, "n": None})
case("context-types", "{{ i }} {{ s }} {{ l }} {{ l[0] }} {{ d }} {{ d['k'] }} {{ d.k }} {{ b }}",
     {"i": 1024, "s": "amd64", "l": ["-smp", 2], "d": {"k": "v"}, "b": True})
case("missing-keys", "[{{ d.missing }}][{{ d['missing'] }}][{{ l[5] }}][{{ d.get('missing') }}]"
     "[{{ d.get('missing', 'fallback') }}]", {"d": {"k": 1}, "l": [1]})
case("subscripts", "{{ l[0] }} {{ l[-1] }} {{ l.1 }} {{ s[0] }} {{ s[-1] }} {{ l[1:] }} {{ l[:-1] }} "
     "{{ s[1:3] }} {{ t[0] }} {{ l[:] }}", {"l": [1, 2, 3], "s": "hello", "t": [["x", "y"]]})

# ---- operators
case("arithmetic", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} "
     "{{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1 + 2.5 }} {{ -x }} {{ +x }} {{ 10 - 2 - 3 }}",
     {"x": 4})
case("plus", "{{ 'a' + 'b' }} {{ [1] + [2, 3] }} {{ l + ['x'] }} {{ (1,) + (2,) }} {{ 'ab' * 2 }}",
     {"l": ["-m", "1024"]})
case("tilde", "{{ 1 ~ 'a' ~ none ~ true ~ missing ~ 2.5 ~ [1] }}")
case("compare", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 1 == true }} "
     "{{ [1, 2] < [1, 3] }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' != 'b' }} {{ none == none }}")
case("in", "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in d }} {{ 'z' not in d }} "
     "{{ 'x' in missing }} {{ 'ar' in l }}", {"d": {"k": 1}, "l": ["arm", "x86"]})
case("logic", "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ '' and 'b' }} {{ not 0 }} {{ not [] }} "
     "{{ none or [] or 'last' }} {{ 1 and 0 or 2 }} {{ not (1 and 0) }}")
case("inline-if", "{{ 'y' if x else 'n' }} {{ 'y' if not x else 'n' }} [{{ 'only' if false }}] "
     "{{ 'a' if x == 1 else 'b' if x == 2 else 'c' }}", {"x": 2})

# ---- statements
case("if-elif-else", "{% for x in [1, 2, 3, 4] %}{% if x == 1 %}one{% elif x == 2 %}two"
     "{% elif x is even %}even{% else %}other{% endif %} {% endfor %}")
case("for-loop", "{% for x in l %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.length }}"
     "{{ '^' if loop.first }}{{ '$' if loop.last }}:{{ x }} {% endfor %}", {"l": ["a", "b", "c"]})
case("for-items", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}"
     "{% for k in d %}{{ k }},{% endfor %}{% for v in d.values() %}{{ v }}.{% endfor %}"
     "{% for k in d.keys() %}{{ k }}!{% endfor %}",
     {"d": {"b": 1, "a": [2], "c": {"x": 1}}})
case("for-else-and-empty", "{% for x in [] %}x{% else %}empty{% endfor %}|"
     "{% for x in missing %}x{% else %}missing{% endfor %}|{% for c in 'abc' %}{{ c }}-{% endfor %}")
case("for-filter", "{% for x in range(10) if x is odd %}{{ x }}{% endfor %} "
     "{% for a, b in [(1, 2), [3, 4]] %}{{ a + b }}{% endfor %}")
case("set-scoping", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %} {{ x }}"
     "{% if true %}{% set y = 'if-visible' %}{% endif %} {{ y }}")
case("set-tuple-and-block", "{% set a, b = 1, 2 %}{{ a }}{{ b }}"
     "{% set captured %}text {{ a }}{% endset %}[{{ captured }}]")
case("filter-block", "{% filter indent(width=10) %}\nline1\nline2\n\nline4\n{% endfilter %}\n"
     "{% filter upper | replace('A', 'a') %}abc{% endfilter %}")
case("indent", "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|"
     "{{ 'a\\n\\nb\\n' | indent(width=3, blank=true) }}|{{ 'a\\nb' | indent('> ') }}|"
     "{{ x | indent(4) }}", {"x": "l1\nl2"})

# ---- filters
case("join", "{{ l | join }} {{ l | join(', ') }} {{ n | join('-') }} {{ missing | join(',') }} "
     "{{ 'abc' | join('.') }}", {"l": ["a", "b"], "n": [1, 2.5, None]})
case("replace-and-case", "{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }} "
     "{{ 'Mixed' | lower }} {{ 'Mixed' | upper }} {{ '  pad  ' | trim }} {{ 'xxhixx' | trim('x') }} "
     "{{ 5 | string }} {{ [1] | string }} {{ 'hello world' | capitalize }} {{ 'hello world' | title }}")
case("int-filter", "{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(9) }} "
     "{{ 3.9 | int }} {{ true | int }} {{ '0x1f' | int(0, 16) }} {{ ' 7 ' | int }}")
case("misc-filters", "{{ l | length }} {{ l | first }} {{ l | last }} {{ 'ab' | list }} "
     "{{ [3, 1, 2] | sort }} {{ [1, 1, 2] | unique | list }} {{ [1, 2] | reverse | list }} "
     "{{ -3 | abs }} {{ 4.5 | float }} {{ '1.5' | float }} {{ d | length }} {{ 'abc' | length }}",
     {"l": [1, 2, 3], "d": {"a": 1}})
case("str-methods", "{{ s.startswith('ttyA') }} {{ s.endswith(('X', '0')) }} {{ s.upper() }} "
     "{{ ' a b '.split() }} {{ 'a,b,,c'.split(',') }} {{ '  x '.strip() }} {{ 'a-b'.replace('-', '+') }} "
     "{{ ','.join(['a', 'b']) }} {{ 'x'.lower() }}", {"s": "ttyAMA0"})

# ---- tests
case("tests", "{{ 's' is string }} {{ 1 is string }} {{ 1 is number }} {{ 1.5 is number }} "
     "{{ true is number }} {{ 'x' is number }} {{ [1] is iterable }} {{ 1 is iterable }} "
     "{{ 's' is iterable }} {{ none is sameas none }} {{ false is sameas false }} "
     "{{ 0 is sameas false }} {{ d is mapping }} {{ 3 is odd }} {{ 6 is divisibleby 3 }} "
     "{{ 1 is eq 1 }} {{ 'a' is in 'cat' }} {{ x is not none }}", {"d": {}, "x": 0})

# ---- inheritance (the device dictionary is always the most derived template)
case("extends-chain-5", "{% extends 'l4.jinja2' %}\n{% set device = 'dev01' %}\n"
     "{% block b4 %}dict-b4({{ super() }}){% endblock %}\nignored text\n",
     l4="{% extends 'l3.jinja2' %}\n{% block b3 %}l4-b3[{{ super() }}]{% endblock %}\n"
        "{% block b4 %}l4-b4{% endblock %}\n",
     l3="{% extends 'l2.jinja2' %}\n{% block b2 %}l3-b2 {{ device }}{% endblock %}\n"
        "{% block b3 %}l3-b3{% endblock %}\n",
     l2="{% extends 'l1.jinja2' %}\n{% block b1 %}l2-b1[{{ super() }}]{% endblock %}\n",
     l1="{% extends 'base.jinja2' %}\n{% block b2 %}l1-b2{% endblock %}\n",
     base="start {{ device }}\n{% block b1 %}base-b1{% endblock %}\n{% block b2 %}base-b2"
          "{% endblock %}\n{% block b3 %}{% endblock %}\n{% block b4 %}{% endblock %}\nend\n")
case("child-sets-seen-by-parent", "{% extends 'p.jinja2' %}\n{% set mac_addr = '52:54:00:12:34:59' %}\n"
     "{% set memory = 2048 %}\n{% set extra = ['-a', '-b'] %}\n",
     p="mac={{ mac_addr | default('none') }}\n{% set memory = memory | default(1024) %}\n"
       "mem={{ memory }}\n{% block opts %}{% for o in extra %}opt {{ o }}\n{% endfor %}"
       "{% endblock %}\nlater={{ later }}\n{% set later = 'x' %}\n{% block tail %}tail {{ later }}"
       "{% endblock %}\n")
case("parent-set-overrides-child", "{% extends 'p.jinja2' %}{% set x = 'child' %}",
     p="{% set x = 'parent' %}{{ x }}")
case("context-vs-dictionary-set", "{% extends 'p.jinja2' %}{% set arch = 'arm64' %}",
     {"arch": "amd64", "memory": 512},
     p="arch={{ arch }} memory={{ memory }}")
case("self-block", "{% extends 'p.jinja2' %}{% block method %}qemu-{{ arch }}{% endblock %}",
     {"arch": "amd64"},
     p="{% block method %}base{% endblock %}\nagain: {{ self.method() }}\n")
case("block-locals", "{% extends 'p.jinja2' %}{% block b %}{% set local = 1 %}{{ local }}"
     "{% for i in [1] %}{{ i }}{% endfor %}{% endblock %}",
     p="{% for i in [9] %}{% block b %}{{ i }}{% endblock %}{% endfor %}[{{ local }}]")
case("output-before-extends", "before\n{% extends 'p.jinja2' %}\nafter\n", p="parent\n")
case("include", "{% set who = 'dict' %}{% include 'inc.jinja2' %}!", inc="included {{ who }}")
case("blocks-in-loops-and-ifs", "{% extends 'p.jinja2' %}{% block item %}<{{ super() }}>{% endblock %}",
     p="{% if true %}{% block item %}i{% endblock %}{% endif %}")

# ---- the shapes LAVA's templates use
case("lava-style-commands",
     "{% extends 'board.jinja2' %}\n{% set connection_command = 'telnet localhost 7001' %}\n"
     "{% set power_on_command = 'pduclient --command on' %}\n"
     "{% set hard_reset_command = ['pdu off', 'sleep 5', 'pdu on'] %}\n"
     "{% set device_info = [{'board_id': '1234'}] %}\n",
     {"boot_character_delay": 10},
     board="commands:\n  connect: {{ connection_command }}\n"
           "{% if hard_reset_command is string %}  hard_reset: {{ hard_reset_command }}\n"
           "{% else %}  hard_reset:\n{% for c in hard_reset_command %}  - {{ c }}\n{% endfor %}"
           "{% endif %}  power_on: {{ power_on_command | default('') }}\n"
           "character_delays:\n  boot: {{ boot_character_delay | default(100) }}\n"
           "device_info: {{ device_info }}\n{% if static_info %}static_info: {{ static_info }}"
           "\n{% endif %}")
case("lava-style-qemu-options",
     "{% extends 'q.jinja2' %}\n{% set memory = 2048 %}\n{% set netdevice = 'tap' %}\n",
     {"arch": "arm64", "extra_options": ["-smp", 4], "guestfs_interface": "virtio"},
     q="{% set base_options = ['-nographic'] %}\n"
       "{% set options = base_options + ['-m ' ~ memory | default(512)] %}\n"
       "{% if netdevice == 'tap' %}{% set options = options + ['-net tap'] %}{% endif %}\n"
       "options: {{ options + extra_options | default([]) }}\n"
       "machine: {{ {'arm64': 'virt', 'amd64': 'q35'}.get(arch, 'pc') }}\n"
       "iface: {{ arch | qemu_guest_fs_interface(guestfs_interface) }}\n"
       "{% filter indent(width=2) %}\nquoted: {{ 'a b' | shlex_quote }}\n{% endfilter %}\n")

# ---- errors (both engines must fail)
case("error-undefined-attribute", "{{ missing.attr }}")
case("error-indent-list", "{{ x | indent(4) }}", {"x": ["l", 1]})
case("error-int-undefined", "{{ missing | int }}")
case("error-type", "{{ 1 + 'a' }}")
case("error-unknown-filter", "{{ 1 | frobnicate }}")
case("error-syntax", "{% if %}")
case("error-unclosed", "{% for x in l %}x")
case("error-missing-parent", "{% extends 'nope.jinja2' %}")

# ---- macros (the web UI's; LAVA's templates have none), imported from a device type
case("macro-params", "{% macro m(a, b=2, c=a ~ '!') %}[{{ a }},{{ b }},{{ c }}]{% endmacro %}\n"
     "{{ m(1) }}{{ m(1, 3) }}{{ m(b=4, a=5) }}{{ m() }}\n")
case("macro-scope", "{% set v = 7 %}\n{% macro m() %}{{ v }}{{ x }}{% endmacro %}\n"
     "{% for x in [1] %}{{ m() }}{% endfor %}\n", {"x": "top"})
case("macro-recursion", "{% macro m(n) %}{% if n > 0 %}{{ n }},{{ m(n - 1) }}{% endif %}{% endmacro %}"
     "{{ m(4) }}|{{ m(2)|upper }}|{{ m(1) ~ 'x' }}")
case("macro-import", "{% import 'ui.jinja2' as ui %}\n{% from 'ui.jinja2' import pair as p, greeting %}\n"
     "{{ ui.badge('<b>') }} {{ ui.badge('y', cls='c') }} {{ p(1, 2) }} {{ greeting }}\n",
     ui="{% set greeting = 'hi' %}{% macro badge(s, cls='x') %}<{{ cls }}>{{ greeting }} {{ s }}"
        "{% endmacro %}\n{% macro pair(a, b) %}{{ a }}|{{ b }}{% endmacro %}\ntext is not rendered\n")
