"""The report of a `mie conformance` run: findings grouped into problems, for a person, for CI and for tools.

A finding is one case that broke one check. Findings that say the same thing (the same transaction, check and
message once its values are taken out: numbers, quoted values, the field's name) are one problem, however many
cases found it. Problems are ranked: what the server does wrong with data it accepted (the chain: saved but not
found, listed, or returned as sent; DICOM) first, then a run that could not proceed, server errors, bad data
accepted, good data refused, answers outside the envelope, and answers the spec's schemas do not describe.

- `summary()`: the verdict, the counts and one line per problem with one short reproducer (a curl line whose
  body is cut when long); at most `DEFAULT_LINES` lines for any server; `summary(verbose=True)` lists every
  case of every problem.
- `to_json()`: every problem with every case, each case's request in full.
- `write_junit()`: a testsuite per transaction, a failing testcase per problem with its cases inside, a passing
  one per test that found nothing.

All of it in Chinese, as the other tools speak; fields by code, Chinese name and 序号.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

EXIT_CLEAN, EXIT_FINDINGS, EXIT_NOT_STARTED = 0, 1, 2
DEFAULT_LINES = 40  # the default report's length, whatever the server does
_CURL_BODY = 200  # characters of a JSON body a reproducer carries inline


@dataclass(frozen=True)
class FieldRef:
    """A field as the spec names it: code, Chinese name, 序号, and the rule a case broke."""

    path: str
    code: str
    title: str
    seq: str
    rule: str

    def named(self) -> str:
        return f"{self.path}({self.title},{self.seq})"


# The checks, by rank (the order problems are listed in) and as the report names them.
CHECKS: dict[str, tuple[int, str]] = {
    "chain": (0, "链路"),
    "dicom": (0, "DICOM"),
    "connection": (1, "无应答"),
    "setup": (1, "准备"),
    "server-error": (2, "服务器错误"),
    "negative-accepted": (3, "错误数据被接受"),
    "msgid-reuse": (3, "msgid 重用未被拒绝"),
    "replay-differs": (3, "重放应答不同"),
    "positive-refused": (4, "合规数据被拒绝"),
    "envelope": (5, "应答报文结构"),
    "per-record": (5, "逐条应答"),
    "refusal-names-field": (5, "拒绝未指明字段"),
    "status-code": (6, "未声明的 HTTP 状态码"),
    "content-type": (6, "Content-Type 不符"),
    "response-schema": (6, "应答不符合 schema"),
}
_OTHER_CHECK = (6, "schemathesis")


# The steps of a run as the text report names them (JSON and JUnit keep the identifiers, stable for tools).
STEPS = {
    "setup": "准备",
    "fuzz positive": "生成用例 (合规数据)",
    "fuzz negative": "生成用例 (违规数据)",
    "replay": "重放",
    "fields base upload": "逐字段用例的基础上传",
    "fields register": "逐字段用例的影像登记",
    "chain 1 save": "链路 1 保存 (§2.1)",
    "chain 2 query finds it": "链路 2 保存后查询 (§2.6)",
    "chain 3 register": "链路 3 登记影像 (§2.3)",
    "chain 3b another institution registers": "链路 3b 另一机构登记影像",
    "chain 3c another institution deletes": "链路 3c 另一机构删除",
    "chain 4 upload": "链路 4 上传影像 (§2.2)",
    "chain 5 list": "链路 5 影像清单 (§2.7)",
    "chain 6 fetch": "链路 6 获取影像 (§2.8)",
    "chain 7 delete": "链路 7 删除 (§2.5)",
    "chain 8 query no longer finds it": "链路 8 删除后查询 (§2.6)",
    "dicom": "DICOM",
    "dicom 1 echo": "DICOM 1 C-ECHO",
    "dicom 2 save": "DICOM 2 保存 (§2.1)",
    "dicom 3 register": "DICOM 3 登记影像 (§2.3)",
    "dicom 4 store": "DICOM 4 C-STORE",
    "dicom 5 list": "DICOM 5 影像清单 (§2.7)",
    "dicom 6 fetch": "DICOM 6 获取影像 (§2.8)",
    "dicom 7 delete": "DICOM 7 删除 (§2.5)",
}


def step_label(test: str) -> str:
    """`field input[0].gend enum` -> `逐字段 input[0].gend enum`; a known step by its Chinese name."""
    if test.startswith("field "):
        return "逐字段 " + test[len("field ") :]
    return STEPS.get(test, test)


def check_label(check: str) -> str:
    return CHECKS.get(check, _OTHER_CHECK)[1] if check in CHECKS else f"{_OTHER_CHECK[1]}: {check}"


@dataclass(frozen=True)
class Request:
    """What a case sent, enough to send it again: JSON (`body`), or multipart (`form`, and the file's size)."""

    url: str
    headers: dict[str, str]
    body: Any = None
    form: dict[str, str] | None = None
    file_field: str | None = None
    file_bytes: int = 0

    def curl(self, full: bool = False) -> str:
        """A curl line; a JSON body longer than a few hundred characters is cut (with a note) unless `full`."""
        parts = ["curl", "-sS", "-X", "POST", shlex.quote(self.url)]
        for name, value in self.headers.items():
            if name.lower() != "content-length":
                parts += ["-H", shlex.quote(f"{name}: {value}")]
        note = ""
        if self.form is not None:
            for name, value in self.form.items():
                parts += ["-F", shlex.quote(f"{name}={value}")]
            if self.file_field:
                parts += ["-F", shlex.quote(f"{self.file_field}=@{self.file_field}.bin")]
                note = f"  # {self.file_field}.bin: 所发文件 ({self.file_bytes:,} 字节)"
        elif self.body is not None:
            text = json.dumps(self.body, ensure_ascii=False, default=repr)
            if not full and len(text) > _CURL_BODY:
                note = f"  # 请求体共 {len(text):,} 个字符, 此处截断; 完整请求见 --verbose 或 --json"
                text = text[:_CURL_BODY] + "…"
            parts += ["-H", shlex.quote("Content-Type: application/json"), "--data-binary", shlex.quote(text)]
        return " ".join(parts) + note

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Finding:
    transaction: str
    section: str
    test: str  # the step or generated test it came from ("fuzz negative", "chain 2 query finds it", a field case)
    check: str  # one of CHECKS, or a schemathesis check's own title
    message: str  # in Chinese
    field: FieldRef | None = None
    status: int | None = None
    request: Request | None = None

    def headline(self) -> str:
        where = f" {self.field.named()} [{self.field.rule}]" if self.field else ""
        return f"{check_label(self.check)}{where}: {self.message}"

    @property
    def curl(self) -> str:
        return self.request.curl() if self.request else ""

    def shape(self) -> str:
        """The message with its values taken out: what findings of one problem have in common."""
        text = self.message
        if self.field is not None:
            text = text.replace(self.field.named(), "<字段>")
        return _shape(text)

    def as_dict(self) -> dict[str, Any]:
        found = {k: v for k, v in asdict(self).items() if k != "request"}
        found["check_label"] = check_label(self.check)
        found["request"] = self.request.as_dict() if self.request else None
        found["curl"] = self.request.curl(full=True) if self.request else ""
        return found


_VALUES = [
    (re.compile(r"'(?:[^'\\]|\\.)*'"), "'…'"),
    (re.compile(r'"(?:[^"\\]|\\.)*"'), '"…"'),
    (re.compile(r"[{\[].*[}\]]"), "{…}"),  # an answer or a value shown in JSON
    (re.compile(r"\b[0-9a-fA-F]{32}\b"), "<md5>"),
    (re.compile(r"(?<!succFlag )\d+(?:[.,]\d+)*"), "N"),  # succFlag's value is a name here, not a count
]


def _shape(text: str) -> str:
    for pattern, placeholder in _VALUES:
        text = pattern.sub(placeholder, text)
    return text


@dataclass
class Problem:
    """Findings of one transaction and check that say the same thing, however many cases found it."""

    transaction: str
    section: str
    check: str
    shape: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def rank(self) -> int:
        return CHECKS.get(self.check, _OTHER_CHECK)[0]

    @property
    def first(self) -> Finding:
        return self.findings[0]

    def tests(self) -> list[str]:
        return list(dict.fromkeys(finding.test for finding in self.findings))

    def fields(self) -> list[str]:
        return list(dict.fromkeys(f"{f.field.named()} {f.field.rule}" for f in self.findings if f.field))

    def line(self) -> str:
        """`[check] §section transaction / test: message (n 例)`, the fields involved when they differ."""
        tests = self.tests()
        test = step_label(tests[0]) if len(tests) == 1 else f"{step_label(tests[0])} 等 {len(tests)} 项"
        where = f"§{self.section} {self.transaction}" if self.section else self.transaction
        same = all(finding.message == self.first.message for finding in self.findings)
        message = self.first.message if same else self.shape  # values that differ between cases are not one of them
        text = f"[{check_label(self.check)}] {where} / {test}: {message} ({len(self.findings)} 例)"
        fields = self.fields()
        if fields:
            count = f"涉及 {len(fields)} 个字段" if len(fields) > 1 else "字段"
            text += f"; {count}: {', '.join(fields[:4])}{' …' if len(fields) > 4 else ''}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "transaction": self.transaction,
            "section": self.section,
            "check": self.check,
            "check_label": check_label(self.check),
            "summary": self.line(),
            "cases": len(self.findings),
            "tests": self.tests(),
            "fields": self.fields(),
            "findings": [finding.as_dict() for finding in self.findings],
        }


@dataclass
class Report:
    url: str
    spec: str
    seed: int
    findings: list[Finding] = field(default_factory=list)
    not_implemented: dict[str, str] = field(default_factory=dict)  # transaction -> what the server said
    tests: dict[tuple[str, str], int] = field(default_factory=dict)  # (transaction, test) -> cases sent
    sections: dict[str, str] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)  # "transaction test" -> digest of the generated cases
    elapsed: float = 0.0

    @property
    def cases(self) -> int:
        return sum(self.tests.values())

    @property
    def clean(self) -> bool:
        return not self.findings

    def exit_code(self) -> int:
        return EXIT_CLEAN if self.clean else EXIT_FINDINGS

    def problems(self) -> list[Problem]:
        """The findings grouped, the worst first: the chain's in the order of its steps, the others by their cases
        (the most first), then the spec's order."""
        grouped: dict[tuple[str, str, str], Problem] = {}
        for finding in self.findings:
            key = (finding.transaction, finding.check, finding.shape())
            if key not in grouped:
                grouped[key] = Problem(finding.transaction, finding.section, finding.check, key[2])
            grouped[key].findings.append(finding)
        def order(problem: Problem) -> tuple[Any, ...]:
            step = problem.first.test if problem.rank == 0 else ""
            return (problem.rank, step, -len(problem.findings), problem.section, problem.transaction)

        return sorted(grouped.values(), key=order)

    def _transactions(self) -> list[str]:
        return sorted({name for name, _ in self.tests}, key=lambda name: (self.sections.get(name, ""), name))

    # text

    def summary(self, verbose: bool = False, lines: int = DEFAULT_LINES) -> str:
        """The verdict and counts, then the problems, each with a reproducer; without `verbose` at most `lines`
        lines (problems that do not fit are counted, not listed)."""
        problems = self.problems()
        rate = f", {self.cases / self.elapsed:.1f} 例/秒" if self.elapsed else ""
        verdict = "符合规范" if self.clean else "不符合规范"
        head = [
            f"mie conformance: {verdict}: {self.url}",
            f"  {self.cases} 个用例, {self.elapsed:.1f} 秒{rate}; "
            + ("没有发现问题" if self.clean else f"{len(self.findings)} 个发现, 归为 {len(problems)} 类问题")
            + f"; 规范 {self.spec}, 种子 {self.seed}",
        ]
        head += self._transaction_lines(problems)
        if self.not_implemented:
            said = ", ".join(f"{name} ({why})" for name, why in sorted(self.not_implemented.items()))
            head.append(f"  未实现 (服务器答 501/未实现, 相关链路步骤跳过): {said}")
        if self.clean:
            return "\n".join(head)
        more = "" if verbose else "; 每个用例见 --verbose, --json FILE, --junit FILE"
        head.append(f"问题 (链路行为在前; 每类一个重现命令{more}):")
        body: list[str] = []
        budget = lines - len(head) - 1  # one line kept for "N more"
        for number, problem in enumerate(problems, 1):
            entry = [f"{number:>3}. {problem.line()}"]
            if verbose:
                for finding in problem.findings:
                    status = f" HTTP {finding.status}" if finding.status is not None else ""
                    where = f" {finding.field.named()} [{finding.field.rule}]" if finding.field else ""
                    entry.append(f"       - {step_label(finding.test)}{where}{status}: {finding.message}")
                    if finding.request:
                        entry.append(f"         {finding.request.curl(full=True)}")
            elif problem.first.request:
                entry.append(f"       {problem.first.curl}")
            if not verbose and len(body) + len(entry) > budget:
                body.append(f"  … 另有 {len(problems) - number + 1} 类问题未列出: 见 --verbose 或 --json FILE")
                break
            body += entry
        return "\n".join(head + body)

    def _transaction_lines(self, problems: list[Problem]) -> list[str]:
        """One line per transaction (cases, problems); with more than ten, several to a line, in eight lines."""
        entries = []
        for transaction in self._transactions():
            cases = sum(count for (name, _), count in self.tests.items() if name == transaction)
            found = sum(1 for problem in problems if problem.transaction == transaction)
            state = f"{found} 类问题" if found else "通过"
            entries.append(f"§{self.sections.get(transaction, '?')} {transaction}: {cases} 例, {state}")
        per_line = 1 if len(entries) <= 10 else -(-len(entries) // 8)
        return ["  " + "; ".join(entries[start : start + per_line]) for start in range(0, len(entries), per_line)]

    # machine-readable

    def to_json(self) -> dict[str, Any]:
        per_transaction: dict[str, dict[str, Any]] = {}
        for (transaction, test), cases in self.tests.items():
            entry = per_transaction.setdefault(
                transaction, {"section": self.sections.get(transaction, ""), "cases": 0, "tests": {}}
            )
            entry["cases"] += cases
            entry["tests"][test] = cases
        problems = self.problems()
        return {
            "url": self.url,
            "spec": self.spec,
            "seed": self.seed,
            "clean": self.clean,
            "cases": self.cases,
            "seconds": round(self.elapsed, 3),
            "cases_per_second": round(self.cases / self.elapsed, 1) if self.elapsed else None,
            "transactions": per_transaction,
            "not_implemented": self.not_implemented,
            "fingerprints": self.fingerprints,
            "findings": len(self.findings),
            "problems": [problem.as_dict() for problem in problems],
        }

    def write_junit(self, path: Path) -> None:
        """A testsuite per transaction: a failing testcase per problem (its cases in the failure's text), a
        passing one per test of the run that found nothing, a skipped one per chain step not implemented."""
        problems = self.problems()
        suites = ElementTree.Element("testsuites", name="mie conformance")
        totals = {"tests": 0, "failures": 0, "skipped": 0}
        for transaction in self._transactions():
            suite = ElementTree.SubElement(suites, "testsuite", name=f"§{self.sections.get(transaction, '?')} {transaction}")
            counts = {"tests": 0, "failures": 0, "skipped": 0}
            failed_tests = set()
            for problem in (p for p in problems if p.transaction == transaction):
                failed_tests.update(problem.tests())
                case = ElementTree.SubElement(suite, "testcase", classname=transaction, name=problem.line()[:200])
                _properties(case, cases=len(problem.findings), check=problem.check)
                failure = ElementTree.SubElement(case, "failure", message=problem.first.message[:500], type=problem.check)
                failure.text = "\n\n".join(
                    f"{finding.test}: {finding.headline()}\n{finding.request.curl(full=True) if finding.request else ''}"
                    for finding in problem.findings
                )
                counts["tests"] += 1
                counts["failures"] += 1
            for (name, test), cases in self.tests.items():
                if name != transaction or test in failed_tests:
                    continue
                case = ElementTree.SubElement(suite, "testcase", classname=transaction, name=test)
                _properties(case, cases=cases)
                counts["tests"] += 1
                if test.startswith("chain") and transaction in self.not_implemented:
                    counts["skipped"] += 1
                    ElementTree.SubElement(case, "skipped", message="未实现: " + self.not_implemented[transaction])
            for key, value in counts.items():
                suite.set(key, str(value))
                totals[key] += value
            suite.set("errors", "0")
        for key, value in totals.items():
            suites.set(key, str(value))
        suites.set("time", f"{self.elapsed:.3f}")
        ElementTree.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def _properties(case: ElementTree.Element, **values: Any) -> None:
    properties = ElementTree.SubElement(case, "properties")
    for name, value in values.items():
        ElementTree.SubElement(properties, "property", name=name, value=str(value))
