"""The learn panel: the seed's insight in the app's words, and a three-question quiz whose
answers point at this session's own measurements."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QGroupBox, QLabel, QPushButton, QRadioButton,
                               QScrollArea, QVBoxLayout, QWidget)

from pipeviz.core.learn import INSIGHT, QUESTIONS, Question

from . import theme

RIGHT, WRONG = ((26, 122, 46), (110, 210, 130)), ((176, 32, 32), (255, 120, 110))
"""The feedback's colours, light and dark variants (gui/theme.semantic)."""


class QuestionBox(QGroupBox):
    def __init__(self, number: int, question: Question, evidence: Callable[[Question], str]):
        super().__init__(f"{number}. {question.text}")
        self.setObjectName(f"quiz_{question.key}")
        self.question = question
        self._evidence = evidence
        self.choices = QButtonGroup(self)
        layout = QVBoxLayout(self)
        for i, text in enumerate(question.choices):
            button = QRadioButton(text)
            button.setObjectName(f"quiz_{question.key}_{i}")
            self.choices.addButton(button, i)
            layout.addWidget(button)
        self.check_button = QPushButton("Check", objectName=f"quiz_{question.key}_check")
        self.feedback = QLabel("", objectName=f"quiz_{question.key}_feedback", wordWrap=True)
        layout.addWidget(self.check_button)
        layout.addWidget(self.feedback)
        self.check_button.clicked.connect(self.check)
        self.answered_right: bool | None = None

    def check(self) -> None:
        choice = self.choices.checkedId()
        if choice < 0:
            self.feedback.setStyleSheet("")
            self.feedback.setText("Pick an answer first.")
            return
        self.answered_right = self.question.is_right(choice)
        verdict = "Right." if self.answered_right else (
            f"Not quite: the answer is “{self.question.choices[self.question.correct]}”.")
        colour = theme.semantic(*(RIGHT if self.answered_right else WRONG))
        self.feedback.setStyleSheet(f"color: {colour.name()}")
        self.feedback.setText(f"<b>{verdict}</b> {self.question.explanation}<br>"
                              f"<i>Evidence from this session:</i> {self._evidence(self.question)}")


class LearnPanel(QScrollArea):
    show_guide = Signal()
    """The user asked for the first-run guide strip again."""

    def __init__(self, evidence: Callable[[Question], str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("learnPanel")
        self.setWidgetResizable(True)
        body = QWidget()
        layout = QVBoxLayout(body)
        insight = QLabel(f"<h3>Why prefetching matters</h3><p>{INSIGHT}</p>",
                         objectName="insightLabel", wordWrap=True)
        layout.addWidget(insight)
        layout.addWidget(QLabel("<b>Try it:</b> the guide above the plots walks through the "
                                "lesson in four steps: Start, untick Prefetch, watch the orange "
                                "input wait, tick it again.", wordWrap=True))
        guide_button = QPushButton("Show the first-run guide", objectName="showGuideButton")
        guide_button.clicked.connect(self.show_guide)
        layout.addWidget(guide_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.questions = [QuestionBox(i + 1, q, evidence) for i, q in enumerate(QUESTIONS)]
        for box in self.questions:
            layout.addWidget(box)
        layout.addStretch(1)
        self.setWidget(body)
