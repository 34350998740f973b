"""NNTrainer's weight initializers -> the `init` of a persistent tensor:
("uniform", limit), ("normal", std) or ("const", value). Fans as NNTrainer
takes them: FC (in, unit); conv (channels * kh * kw, filters * kh * kw);
a 1-D tensor (bias, gamma) has fan_in = fan_out = its length."""
import math

LIMITS = {
    "lecun_uniform": lambda fan_in, fan_out: math.sqrt(3.0 / fan_in),
    "xavier_uniform": lambda fan_in, fan_out: math.sqrt(6.0 / (fan_in + fan_out)),
    "he_uniform": lambda fan_in, fan_out: math.sqrt(6.0 / fan_in),
}
STDS = {
    "lecun_normal": lambda fan_in, fan_out: math.sqrt(1.0 / fan_in),
    "xavier_normal": lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out)),
    "he_normal": lambda fan_in, fan_out: math.sqrt(2.0 / fan_in),
}


def initializer(name, fan_in, fan_out):
    if name == "zeros":
        return ("const", 0.0)
    if name == "ones":
        return ("const", 1.0)
    if name in LIMITS:
        return ("uniform", LIMITS[name](fan_in, fan_out))
    return ("normal", STDS[name](fan_in, fan_out))


def weight_init(node, fan_in, fan_out):
    return initializer(node.props.get("weight_initializer", "xavier_uniform"), fan_in, fan_out)


def bias_init(node, length):
    return initializer(node.props.get("bias_initializer", "zeros"), length, length)
