import re
import subprocess
import sys

from fastmlp.cli import main


def test_train_digits_prints_epochs_and_final_accuracy(capsys):
    assert main(["train", "digits", "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    epochs = re.findall(r"epoch\s+(\d+)\s+loss ([\d.]+)\s+train accuracy ([\d.]+)\s+([\d.]+) s", out)
    assert [int(e[0]) for e in epochs] == [1, 2, 3]
    final = re.search(r"test accuracy ([\d.]+)\s+total ([\d.]+) s", out)
    assert final and float(final.group(1)) > 0.9


def test_train_xor(capsys):
    assert main(["train", "xor", "--epochs", "2000"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy 1.0000" in out


def test_errors_are_one_line():
    result = subprocess.run([sys.executable, "-m", "fastmlp.cli", "train", "--lr", "-1"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "fastmlp: error: --epochs and --batch-size must be >= 1 and --lr > 0; got 20, 1, -1"]
    result = subprocess.run([sys.executable, "-m", "fastmlp.cli", "train", "mnist"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "invalid choice: 'mnist'" in result.stderr
    assert "Traceback" not in result.stderr
