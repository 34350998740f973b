"""microtrain demo: pretrain, plan, flash an emulated board, personalise it to
one user's handwriting and show the accuracy before and after."""
from host_tools.cli.arguments import U16_MAX, U32_MAX, integer
from host_tools.device.targets import TARGET_NAMES
from host_tools.errors import UserError
from host_tools.model.model_settings import PRECISIONS


def register(commands):
    parser = commands.add_parser("demo", help="the device workflow on an emulated board",
                                 description="Pretrain the digits MLP, flash it to an emulated "
                                             "board, personalise it on one user's handwriting "
                                             "and compare held-out accuracy before and after.")
    parser.add_argument("--workdir", default="microtrain-demo", metavar="DIR",
                        help="where the bundle, weights, CSV and PNG go (default microtrain-demo)")
    parser.add_argument("--no-live", action="store_true", help="plain lines, no live view")
    parser.add_argument("--user", type=integer(0, U32_MAX), default=3, metavar="N",
                        help="which user's handwriting (a seed, default 3)")
    parser.add_argument("--epochs", type=integer(1, U16_MAX), default=30, metavar="N",
                        help="personalisation epochs on the board (1..65535, default 30)")
    parser.add_argument("--pretrain-epochs", type=integer(1, U16_MAX), default=15, metavar="N",
                        help="pretraining epochs on the host (1..65535, default 15)")
    parser.add_argument("--target", choices=TARGET_NAMES, default="linux",
                        help="the emulated board: linux (default) or a bare-metal firmware "
                             "under QEMU (baremetal-m4f, baremetal-m3)")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="number format the board trains in: float32 (default), int8 "
                             "(the pretrained float weights quantized) or fixed")
    parser.add_argument("--no-qas", action="store_true",
                        help="int8 without quantization-aware scaling (the ablation)")
    parser.set_defaults(run=run)


def run(args):
    if args.no_qas and args.precision != "int8":
        raise UserError(f"--no-qas applies to int8 only (precision is {args.precision})")
    from host_tools.device.demo import Demo
    Demo(args.workdir, live=not args.no_live, user=args.user,
         pretrain_epochs=args.pretrain_epochs, epochs=args.epochs, target=args.target,
         precision=args.precision, qas=not args.no_qas).run()
    return 0
