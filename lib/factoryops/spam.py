from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    score: int
    signals: tuple[str, ...]
    threshold: int

    @property
    def spam(self) -> bool:
        return self.score >= self.threshold

    @property
    def reason(self) -> str:
        return ", ".join(self.signals)


def assess(*, name: str, company: str, message: str, threshold: int | None = None) -> Verdict:
    n = message.count("http")
    return Verdict(n * 2 + (5 if "backlinks" in message else 0), (f"{n} links",), threshold or 5)
