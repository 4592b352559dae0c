from zone_opt.cli import main

raise SystemExit(main())
