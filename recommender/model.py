"""The similarity model learned from editors' Read-also picks: a calibrated logistic regression over pair features.

A linear model is stored as a handful of numbers (scaler, coefficients, Platt calibration, blend
weight), so the artifact stays JSON + arrays with no pickle. Its ranking score for a candidate is a
blend of relatedness (the cosine of the expanded vectors) and the calibrated probability that an editor would pick it::

    score = (1 - blend_) * relatedness + blend_ * probability

``blend_`` is chosen on newer held-out articles (see :mod:`recommender.training`); with no
evidence that the model helps it stays 0 and the engine ranks by relatedness alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from recommender.features import FEATURES


def blend(cosine: np.ndarray, probability: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * cosine + weight * probability``; weight 0 is plain cosine."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"blend weight must be in [0, 1], got {weight}")
    return (1.0 - weight) * np.asarray(cosine, dtype=np.float64) + weight * np.asarray(probability, dtype=np.float64)


def sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(values, -50, 50)))


class LinkModel(BaseEstimator):
    """Logistic regression on standardised pair features, Platt-calibrated, blended with cosine.

    ``features`` names the columns of :data:`recommender.features.FEATURES` the model uses (an
    ablation drops some); ``fit`` takes the full feature matrix and selects them.
    """

    def __init__(self, *, features: Sequence[str] = FEATURES, C: float = 1.0, class_weight: str | None = "balanced",
                 max_iter: int = 1000):
        self.features = features
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter

    def _columns(self) -> np.ndarray:
        unknown = [name for name in self.features if name not in FEATURES]
        if unknown:
            raise ValueError(f"unknown features {unknown}; known: {', '.join(FEATURES)}")
        return np.asarray([FEATURES.index(name) for name in self.features], dtype=np.int64)

    def _check_X(self, X) -> np.ndarray:
        """The used columns of ``X`` (nan where a value is unknown for a pair: no date, no site)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(FEATURES):
            raise ValueError(f"X must have {len(FEATURES)} feature columns, got shape {X.shape}")
        return X[:, self._columns()]

    def _standardised(self, X: np.ndarray) -> np.ndarray:
        """``X`` on the training scale; an unknown value becomes the training mean, which the model reads as
        neutral (0 after standardising): neither for nor against the pair."""
        return (np.where(np.isnan(X), self.mean_, X) - self.mean_) / self.scale_

    def fit(self, X, y) -> LinkModel:
        """Learn from pair features ``X`` (rows x FEATURES) and labels ``y`` (1 = an editor linked the pair)."""
        X, y = self._check_X(X), np.asarray(y, dtype=np.int64)
        if len(X) != len(y):
            raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
        if set(np.unique(y)) != {0, 1}:
            raise ValueError(f"y needs both positive and negative pairs, got labels {sorted(set(y.tolist()))}")
        known = ~np.isnan(X)
        self.mean_ = np.where(known.any(axis=0), np.nansum(X, axis=0) / np.maximum(known.sum(axis=0), 1), 0.0)
        scale = np.where(known, X, self.mean_).std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        regression = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter)
        regression.fit(self._standardised(X), y)
        self.coef_ = regression.coef_.ravel().astype(np.float64)
        self.intercept_ = float(regression.intercept_[0])
        self.calibration_: tuple[float, ...] = (1.0, 0.0)
        self.blend_ = 0.0
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "coef_")
        return self._standardised(self._check_X(X)) @ self.coef_ + self.intercept_

    def calibrate(self, X, y) -> LinkModel:
        """Platt scaling on held-out pairs: ``p = sigmoid(a * decision + b)``. Needs both labels; else unchanged."""
        y = np.asarray(y, dtype=np.int64)
        if set(np.unique(y)) == {0, 1}:
            platt = LogisticRegression(C=1e4, max_iter=self.max_iter)
            platt.fit(self.decision_function(X).reshape(-1, 1), y)
            self.calibration_ = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probability that each pair is an editor's pick (one column, the positive class)."""
        decision = self.decision_function(X)  # checks that the model is fitted
        a, b = self.calibration_
        return sigmoid(a * decision + b)

    def score(self, X, probability: np.ndarray | None = None) -> np.ndarray:
        """The ranking score of each pair: relatedness blended with the calibrated probability
        (``probability``: ``predict_proba(X)`` when the caller has it already)."""
        check_is_fitted(self, "coef_")
        relatedness = np.asarray(X, dtype=np.float64)[:, FEATURES.index("relatedness")]
        if self.blend_ == 0.0:
            return relatedness
        return blend(relatedness, self.predict_proba(X) if probability is None else probability, self.blend_)

    def weights(self) -> dict[str, float]:
        """Coefficient of each used feature on the standardised scale (for reports)."""
        check_is_fitted(self, "coef_")
        return {name: round(float(c), 4) for name, c in zip(self.features, self.coef_)}

    # -- persistence ---------------------------------------------------------------------------
    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """JSON-able parameters and arrays that rebuild the fitted model without pickle."""
        check_is_fitted(self, "coef_")
        params = {"features": list(self.features), "C": self.C, "class_weight": self.class_weight,
                  "max_iter": self.max_iter, "intercept": self.intercept_, "calibration": list(self.calibration_),
                  "blend": self.blend_, "report": getattr(self, "report_", {})}
        return params, {"model_mean": self.mean_, "model_scale": self.scale_, "model_coef": self.coef_}

    @classmethod
    def from_state(cls, params: Mapping, arrays: Mapping[str, np.ndarray]) -> LinkModel:
        model = cls(features=tuple(params["features"]), C=params["C"], class_weight=params["class_weight"],
                    max_iter=params["max_iter"])
        model.mean_ = np.asarray(arrays["model_mean"], dtype=np.float64)
        model.scale_ = np.asarray(arrays["model_scale"], dtype=np.float64)
        model.coef_ = np.asarray(arrays["model_coef"], dtype=np.float64)
        if not len(model.mean_) == len(model.scale_) == len(model.coef_) == len(model.features):
            raise ValueError("model arrays do not match its feature list")
        model.intercept_ = float(params["intercept"])
        model.calibration_ = tuple(float(v) for v in params["calibration"])
        model.blend_ = float(params["blend"])
        model.report_ = dict(params.get("report") or {})
        return model


__all__ = ["LinkModel", "blend", "sigmoid"]
