"""scikit-learn estimators trained by fastmlp: drop-in ``MLPClassifier`` and ``MLPRegressor``.

Needs scikit-learn (``pip install "fastmlp[sklearn]"``); ``import fastmlp`` alone never does.
The parameters are scikit-learn's ``sklearn.neural_network`` ones, with their names, defaults
and meaning, plus ``dtype`` and ``threads`` (``fastmlp.Network.fit``'s: each minibatch's
gradient in that many parts at once); ``coefs_`` and ``intercepts_`` are ``(n_in, n_out)``
and ``(n_out,)`` views into the network's flat parameter buffer. Where fastmlp's own conventions
differ, the estimators translate to scikit-learn's:

- ``alpha`` is scikit-learn's L2 term ``0.5 * alpha * ||W||^2 / batch_size`` added to the
  batch's mean loss: fastmlp's ``l2 = alpha / batch_size``, for every batch (scikit-learn
  divides by the actual size, which differs for a smaller last batch).
- ``solver="sgd"`` uses momentum (Nesterov's with ``nesterovs_momentum``); its velocity is
  PyTorch's, the same steps as scikit-learn's while the learning rate is constant.
- ``learning_rate="invscaling"`` sets each epoch's rate to
  ``learning_rate_init / (t_ + 1) ** power_t`` from the samples seen before it, and
  "adaptive" divides it by 5 whenever the loss (or validation score) stalls, as scikit-learn
  does at the end of each epoch.
- Weights and biases start as scikit-learn's: uniform in ``+-sqrt(f / (fan_in + fan_out))``,
  f = 2 for "logistic" and 6 otherwise, drawn from ``random_state``. The shuffles come from
  the same seed but are not scikit-learn's, so results match in kind, not bit for bit.
- The regression loss is ``0.5 * sum over outputs`` of the squared error (scikit-learn
  averages over outputs too): the same for one output.
- ``solver="lbfgs"`` is not available.
"""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .checks import as_features, as_targets
from .network import Network
from .schedules import Schedule

ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}


@dataclass(frozen=True)
class _SamplesInvScaling(Schedule):
    """scikit-learn's "invscaling": a fit call's first epoch at lr, every later one at
    ``lr / (t + 1) ** power_t``, t the samples seen before it."""

    first_epoch: int
    samples_before: int
    n: int
    power_t: float

    def rate(self, lr, t):
        if t == self.first_epoch:
            return lr
        return lr / (self.samples_before + (t - self.first_epoch) * self.n + 1) ** self.power_t


class _BaseMLP(BaseEstimator):
    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions({"sgd", "adam"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "dtype": [type, np.dtype, str],
        "threads": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 dtype=np.float32, threads=1):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype
        self.threads = threads

    # --- what subclasses say ----------------------------------------------------------------

    def _output(self) -> tuple[str, str]:
        """(fastmlp output, scikit-learn's out_activation_) for the fitted targets."""
        raise NotImplementedError

    def _targets(self, y, first: bool, classes=None) -> np.ndarray:
        """y as the ``(n, n_outputs)`` float targets the network trains on (``classes``: every
        label, from partial_fit's first call)."""
        raise NotImplementedError

    def _decode(self, out: np.ndarray) -> np.ndarray:
        """Predictions from the network's outputs ``(n, n_outputs)``."""
        raise NotImplementedError

    # --- training ---------------------------------------------------------------------------

    @property
    def coefs_(self) -> list[np.ndarray]:
        check_is_fitted(self, "network_")
        return self.network_.weights

    @property
    def intercepts_(self) -> list[np.ndarray]:
        check_is_fitted(self, "network_")
        return self.network_.biases

    def _hidden(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if not all(isinstance(s, numbers.Integral) and s > 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers; got {sizes}")
        return [int(s) for s in sizes]

    def _initialize(self, n_features: int, n_outputs: int) -> None:
        output, self.out_activation_ = self._output()
        sizes = [n_features] + self._hidden() + [n_outputs]
        rng = check_random_state(self.random_state)
        self.network_ = Network(sizes, activation=ACTIVATIONS[self.activation], output=output,
                                dtype=self.dtype, seed=int(rng.randint(np.iinfo(np.int32).max)))
        factor = 2.0 if self.activation == "logistic" else 6.0
        for W, b in zip(self.network_.weights, self.network_.biases):
            bound = np.sqrt(factor / (W.shape[0] + W.shape[1]))
            W[...] = rng.uniform(-bound, bound, W.shape)
            b[...] = rng.uniform(-bound, bound, b.shape)
        self.n_layers_ = len(sizes)
        self.n_outputs_ = n_outputs
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self._rate = float(self.learning_rate_init)
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _fit(self, X, y, incremental: bool, classes=None):
        first = not (incremental or self.warm_start) or not hasattr(self, "network_")
        X, y = validate_data(self, X, y, reset=first, multi_output=True,
                             dtype=(np.float64, np.float32), y_numeric=not self._classifier)
        T = self._targets(y, first, classes)
        self._best_params = None
        if first:
            self._initialize(X.shape[1], T.shape[1])
        elif T.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {T.shape[1]} outputs; the network was fitted with "
                             f"{self.n_outputs_}")
        net = self.network_
        X_val = y_val = None
        if self.early_stopping and not incremental:
            stratify = y if self._classifier and type_of_target(y) in ("binary",
                                                                        "multiclass") else None
            X, X_val, T, _, y, y_val = train_test_split(
                X, T, y, random_state=self.random_state, test_size=self.validation_fraction,
                stratify=stratify)
            X_val = as_features(X_val, net.config)
        # In the network's dtype once, so that no fit call below copies them again.
        n = X.shape[0]
        X, T = as_features(X, net.config), as_targets(T, n, net.config)
        batch_size = min(200, n) if self.batch_size == "auto" else min(self.batch_size, n)
        if self.batch_size != "auto" and self.batch_size > X.shape[0]:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                          "going to be clipped", UserWarning)
        settings = dict(batch_size=batch_size, l2=self.alpha / batch_size,
                        shuffle=self.shuffle, threads=self.threads)
        if self.solver == "adam":
            settings.update(optimizer="adam", beta1=self.beta_1, beta2=self.beta_2,
                            eps=self.epsilon)
        elif self.momentum > 0:
            settings.update(optimizer="nesterov" if self.nesterovs_momentum else "momentum",
                            momentum=self.momentum)
        def end_of_epoch(history: dict) -> bool:
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = history["loss"][-1]
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            self._update_no_improvement(X_val, y_val)
            return self._no_improvement_count <= self.n_iter_no_change

        # One fit call trains until scikit-learn's rules stop it (the callback), or until
        # "adaptive" divides the rate by 5 and the next call goes on at the new rate.
        remaining = 1 if incremental else self.max_iter
        while True:
            schedule = None
            if self.solver == "sgd" and self.learning_rate == "invscaling":
                schedule = _SamplesInvScaling(net.epochs_trained, self.t_, n, self.power_t)
            history = net.fit(X, T, epochs=remaining, lr=self._rate, schedule=schedule,
                              callback=end_of_epoch, **settings)
            remaining -= len(history["loss"])
            reduced = False
            if history["stopped"] == "callback" and self.solver == "sgd" \
                    and self.learning_rate == "adaptive" and self._rate > 1e-6:
                self._rate /= 5
                self._no_improvement_count = 0
                reduced = True
                if remaining > 0:
                    continue
            if remaining == 0 and not incremental and (history["stopped"] is None or reduced):
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                              f"reached and the optimization hasn't converged yet.",
                              ConvergenceWarning)
            break
        if self.early_stopping and not incremental and self._best_params is not None:
            net.params[:] = self._best_params
        return self

    def _update_no_improvement(self, X_val, y_val) -> None:
        if X_val is not None:
            metric = accuracy_score if self._classifier else r2_score
            score = metric(y_val, self._decode(self.network_._outputs(X_val)))
            self.validation_scores_.append(score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self.network_.params.copy()
        else:
            if self.loss_ > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_ < self.best_loss_:
                self.best_loss_ = self.loss_

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit to X ``(n_samples, n_features)`` and y; returns self."""
        return self._fit(X, y, incremental=False)

    def _predict_raw(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.network_._outputs(as_features(X, self.network_.config))

    def predict(self, X) -> np.ndarray:
        return self._decode(self._predict_raw(X))


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multi-layer perceptron classifier, scikit-learn's ``MLPClassifier`` trained by
    fastmlp (see the module's docstring for the parameters and where they differ).

    Binary (one logistic output), multiclass (softmax) and multilabel (a 0/1 indicator matrix;
    one logistic output per label) targets; any labels scikit-learn accepts.
    """

    _classifier = True

    def _output(self):
        return ("softmax", "softmax") if self._label_binarizer.y_type_ == "multiclass" else \
            ("sigmoid", "logistic")

    def _targets(self, y, first, classes=None):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if first:
            self._label_binarizer = LabelBinarizer().fit(y if classes is None else classes)
            self.classes_ = self._label_binarizer.classes_
        if not first or classes is not None:
            classes = unique_labels(y)
            if not np.all(np.isin(classes, self.classes_)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` "
                                 f"has {self.classes_}. 'y' has {classes}.")
        return self._label_binarizer.transform(y).astype(np.float64)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """One epoch on X, y; ``classes`` (every label) is needed on the first call."""
        if not hasattr(self, "network_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            return self._fit(X, y, incremental=True, classes=classes)
        if classes is not None and not np.array_equal(np.sort(classes), self.classes_):
            raise ValueError(f"`classes={list(classes)}` is not the same as on the first call "
                             f"to partial_fit, which was: {list(self.classes_)}")
        return self._fit(X, y, incremental=True)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``, as scikit-learn's."""
        out = self._predict_raw(X).astype(np.float64)
        if self.n_outputs_ == 1 and self._label_binarizer.y_type_ == "binary":
            return np.hstack([1 - out, out])
        return out

    def predict_log_proba(self, X) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def _decode(self, out):
        if self._label_binarizer.y_type_ == "multiclass":
            return self.classes_[out.argmax(axis=1)]
        return self._label_binarizer.inverse_transform(out, threshold=0.5)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multi-layer perceptron regressor, scikit-learn's ``MLPRegressor`` trained by fastmlp
    (see the module's docstring for the parameters and where they differ)."""

    _classifier = False

    def _output(self):
        return "identity", "identity"

    def _targets(self, y, first, classes=None):
        self._y_1d = y.ndim == 1 if first else self._y_1d
        return np.asarray(y, dtype=np.float64).reshape(len(y), -1)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y):
        """One epoch on X, y."""
        return self._fit(X, y, incremental=True)

    def _decode(self, out):
        out = out.astype(np.float64)
        return out[:, 0] if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
