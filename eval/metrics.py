"""Classification scores, their mean and spread over seeds, and the majority-class baseline."""
import statistics

METRICS = ("accuracy", "macro_f1", "weighted_f1")


def scores(gold: list, predicted: list, labels: list) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": accuracy_score(gold, predicted),
            "macro_f1": f1_score(gold, predicted, labels=labels, average="macro", zero_division=0),
            "weighted_f1": f1_score(gold, predicted, labels=labels, average="weighted", zero_division=0)}


def aggregate(runs: list) -> dict:
    """Mean and standard deviation over seeds of every metric."""
    return {metric: {"mean": statistics.fmean(r[metric] for r in runs),
                     "std": statistics.stdev(r[metric] for r in runs) if len(runs) > 1 else 0.0}
            for metric in METRICS}


def majority_label(train, labels: list) -> str:
    """The training set's most frequent label (ties: the first in order)."""
    return max(labels, key=lambda label: (train.labels.count(label), -labels.index(label)))


def majority_baseline(train, test, labels: list) -> dict:
    """Scores of always predicting the training set's most frequent label."""
    most = majority_label(train, labels)
    return {"label": most, **scores(list(test.labels), [most] * len(test), labels)}


def learned(model: dict, majority: float) -> bool:
    """Above the majority class by more than the spread over seeds ({mean, std} of the metric)."""
    return model["mean"] - majority > model["std"]


def unseen_scores(train, test, indices: list, predictions: list, labels: list) -> dict:
    """Scores on the test items at `indices` only (those not in the training split), for every
    seed's `predictions` of the whole test: {"items", "aggregate", "majority_baseline"}. The
    averages are over the labels the part has or a run predicts: a label absent from the part
    would add an F1 of 0 to the macro average of a perfect classifier."""
    if not indices:
        return {"items": 0, "aggregate": None, "majority_baseline": None}
    gold = [test.labels[i] for i in indices]

    def on_part(guesses: list) -> dict:
        return scores(gold, guesses, [label for label in labels if label in {*gold, *guesses}])

    most = majority_label(train, labels)
    return {"items": len(indices), "aggregate": aggregate([on_part([run[i] for i in indices]) for run in predictions]),
            "majority_baseline": {"label": most, **on_part([most] * len(gold))}}
