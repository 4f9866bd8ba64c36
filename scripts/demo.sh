#!/usr/bin/env bash
# Builds the apps (installing what is missing) and explains the bundled
# models with DeepSHAP:
#   out/breast_cancer/  all 569 rows of the breast-cancer data, against 100
#                       background rows drawn from the same file, with a
#                       beeswarm summary and the waterfall of row 0
#   out/mnist_digit/    one test digit, against 50 test digits, with its
#                       heat map
# then visualizes MNIST CNN units (out/mnist_visualize/) and attacks 200
# test digits with PGD on the standard and the robust MNIST CNN
# (out/attack_mnist_cnn/, out/attack_mnist_cnn_robust/).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/build.sh

echo
echo "== Breast cancer MLP: DeepSHAP on all 569 rows, 100 background rows"
build/xai-attribute --model models/breast_cancer_mlp.pt \
  --input models/data/breast_cancer.csv --label-column target \
  --method deepshap --background-rows 100 --seed 0 --target pred \
  --plot beeswarm,waterfall --out out/breast_cancer

echo
echo "== MNIST CNN: DeepSHAP on test digit 0 (label 8), 50 background digits"
build/xai-attribute --model models/mnist_cnn.pt \
  --input models/data/mnist_png/digit_0_label8.png \
  --method deepshap --background models/data/mnist_test_images.npy \
  --background-rows 50 --seed 0 --target pred \
  --plot image --out out/mnist_digit

echo
echo "== MNIST CNN: activation maximization of four conv2 channels and the"
echo "   ten class logits, one grid (out/mnist_visualize/grid.png)"
build/xai-visualize --model models/mnist_cnn.pt --input-shape 1,28,28 \
  --objective conv2:0 --objective conv2:1 --objective conv2:2 \
  --objective conv2:3 --objective logit:0 --objective logit:1 \
  --objective logit:2 --objective logit:3 --objective logit:4 \
  --objective logit:5 --objective logit:6 --objective logit:7 \
  --objective logit:8 --objective logit:9 --steps 64 --seed 0 \
  --data models/data/mnist_test_images.npy --out out/mnist_visualize

echo
echo "== PGD (40 steps) on 200 MNIST test digits at eps 0.1, 0.2, 0.3:"
echo "   the standard CNN, then the adversarially trained one"
for model in mnist_cnn mnist_cnn_robust; do
  build/xai-attack -q --model "models/$model.pt" \
    --input models/data/mnist_test_images.npy \
    --labels models/data/mnist_test_labels.npy --rows 0:200 \
    --attack pgd --eps 0.1,0.2,0.3 --out "out/attack_$model"
done
