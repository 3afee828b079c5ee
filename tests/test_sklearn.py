"""fastmlp.sklearn: scikit-learn's own estimator checks, and the estimators at work."""
import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastmlp.sklearn import MLPClassifier, MLPRegressor

# As scikit-learn checks its own MLPs: default layers, max_iter=100.
ESTIMATORS = [MLPClassifier(max_iter=100, random_state=0),
              MLPRegressor(max_iter=100, random_state=0)]


@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


import pickle
import warnings

from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastmlp import datasets


@pytest.fixture(scope="module")
def digits():
    return datasets.load_digits()


def quiet(estimator, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **kw)


@pytest.mark.parametrize("batch_size, lr, epochs", [(1, 0.1, 15), ("auto", 0.5, 80)])
def test_same_settings_learn_as_well_as_scikit_learn(digits, batch_size, lr, epochs):
    X, y, X_test, y_test = digits
    settings = dict(hidden_layer_sizes=(32,), activation="logistic", solver="sgd",
                    momentum=0.0, alpha=1e-4, batch_size=batch_size, learning_rate_init=lr,
                    max_iter=epochs, random_state=0, n_iter_no_change=1000)
    ours = quiet(MLPClassifier(**settings), X, y)
    theirs = quiet(SklearnMLPClassifier(**settings), X, y)
    assert ours.n_iter_ == theirs.n_iter_ == epochs
    assert ours.score(X_test, y_test) > theirs.score(X_test, y_test) - 0.02
    assert ours.score(X_test, y_test) > 0.93


def test_fitted_attributes_are_scikit_learns(digits):
    X, y, _, _ = digits
    est = quiet(MLPClassifier(hidden_layer_sizes=(20, 10), max_iter=5, random_state=0), X, y)
    assert [W.shape for W in est.coefs_] == [(64, 20), (20, 10), (10, 10)]
    assert [b.shape for b in est.intercepts_] == [(20,), (10,), (10,)]
    assert all(np.shares_memory(W, est.network_.params) for W in est.coefs_)
    assert est.n_iter_ == 5 and len(est.loss_curve_) == 5 and est.t_ == 5 * len(X)
    assert est.loss_ == est.loss_curve_[-1] and est.best_loss_ == min(est.loss_curve_)
    assert est.out_activation_ == "softmax" and est.n_layers_ == 4 and est.n_outputs_ == 10
    assert list(est.classes_) == list(range(10)) and est.n_features_in_ == 64
    proba = est.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(est.predict_log_proba(X[:5]), np.log(proba))


def test_early_stopping_keeps_the_best_validation_score(digits):
    X, y, _, _ = digits
    est = quiet(MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, max_iter=300,
                              n_iter_no_change=3, random_state=0, learning_rate_init=0.01),
                X, y)
    assert est.n_iter_ < 300 and len(est.validation_scores_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.best_loss_ is None


def test_labels_multilabel_and_multioutput():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    words = np.where(X[:, 0] > 0, "yes", "no")
    est = quiet(MLPClassifier(hidden_layer_sizes=(8,), max_iter=200, random_state=0,
                              learning_rate_init=0.01), X, words)
    assert est.predict(X).dtype.kind == "U" and est.score(X, words) > 0.9
    assert est.out_activation_ == "logistic" and est.predict_proba(X).shape == (120, 2)
    labels = np.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 1] > 0], axis=1).astype(int)
    multi = quiet(MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0,
                                learning_rate_init=0.01), X, labels)
    assert multi.predict(X).shape == (120, 3) and multi.score(X, labels) > 0.8
    targets = np.stack([X[:, 0] - X[:, 1], X[:, 2] * 0.5], axis=1)
    reg = quiet(MLPRegressor(hidden_layer_sizes=(16,), max_iter=300, random_state=0,
                             learning_rate_init=0.01), X, targets)
    assert reg.predict(X).shape == (120, 2) and reg.score(X, targets) > 0.9
    one = quiet(MLPRegressor(hidden_layer_sizes=(16,), max_iter=300, random_state=0,
                             learning_rate_init=0.01), X, targets[:, 0])
    assert one.predict(X).shape == (120,)


def test_partial_fit_pickle_clone_and_model_selection(digits):
    X, y, X_test, y_test = digits
    est = MLPClassifier(hidden_layer_sizes=(16,), random_state=0, learning_rate_init=0.01)
    with pytest.raises(ValueError, match="classes must be passed"):
        est.partial_fit(X[:10], y[:10])
    est.partial_fit(X[:200], y[:200], classes=np.arange(10))
    first = est.score(X_test, y_test)
    for start in range(200, 3 * len(X), 200):
        rows = np.arange(start, start + 200) % len(X)
        est.partial_fit(X[rows], y[rows])
    assert est.n_iter_ == len(range(0, 3 * len(X), 200)) and est.t_ == 200 * est.n_iter_
    assert est.score(X_test, y_test) > max(first, 0.5)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X_test), est.predict(X_test))
    assert all(np.shares_memory(W, again.network_.params) for W in again.coefs_)
    fresh = clone(est)
    assert not hasattr(fresh, "network_") and fresh.get_params() == est.get_params()
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=30,
                                                         learning_rate_init=0.01,
                                                         random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=3)
        search = GridSearchCV(MLPClassifier(max_iter=30, learning_rate_init=0.01,
                                            random_state=0),
                              {"hidden_layer_sizes": [(8,), (32,)], "alpha": [1e-4, 1e-2]},
                              cv=2).fit(X, y)
    assert scores.mean() > 0.9 and search.best_score_ > 0.9
    assert len(search.cv_results_["params"]) == 4


def record_rates(monkeypatch):
    """The learning rate of every epoch fastmlp trains, whichever network trains it."""
    from fastmlp.network import Network
    rates = []
    train_epochs = Network._train_epochs

    def spy(self, X, T, orders, begin, end, batch_size, lrs, *rest):
        rates.extend(lrs.tolist())
        return train_epochs(self, X, T, orders, begin, end, batch_size, lrs, *rest)

    monkeypatch.setattr(Network, "_train_epochs", spy)
    return rates


@pytest.mark.parametrize("schedule", ["invscaling", "adaptive"])
def test_learning_rate_schedules_are_scikit_learns(monkeypatch, schedule):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    settings = dict(hidden_layer_sizes=(5,), solver="sgd", momentum=0.0, batch_size=40,
                    learning_rate=schedule, learning_rate_init=0.1, power_t=0.5, max_iter=10,
                    random_state=0, tol=1e9 if schedule == "adaptive" else 0.0,
                    n_iter_no_change=2 if schedule == "adaptive" else 100)
    rates = record_rates(monkeypatch)
    ours = quiet(MLPRegressor(**settings), X, y)
    theirs = quiet(SklearnMLPRegressor(**settings), X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 10
    if schedule == "invscaling":
        expected = [0.1] + [0.1 / (40 * e + 1) ** 0.5 for e in range(1, 10)]
    else:  # no epoch improves by tol: the rate falls 5-fold after epochs 4 and 7
        expected = [0.1] * 4 + [0.02] * 3 + [0.004] * 3
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
    if schedule == "adaptive":  # (both divide once more after the last epoch)
        assert ours._rate == pytest.approx(theirs._optimizer.learning_rate)
